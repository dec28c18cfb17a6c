// Revisions: what the engine applied and what it refused (each issue as file:line:col), and the plan
// of any commit — the review `fleetform diff` prints, as the plan route renders it in markdown, parsed
// into text nodes (web/src/markdown.ts), never injected as HTML.
import { useState } from 'preact/hooks';
import { withQuery } from '../api.ts';
import { shortSha } from '../format.ts';
import { parseMarkdown } from '../markdown.ts';
import { MarkdownView } from '../markdown-view.tsx';
import { useResource } from '../poll.ts';
import { href, navigate, route } from '../router.ts';
import { api } from '../session.ts';
import type { Revision, RevisionList } from '../types.ts';
import { Badge, Empty, ErrorNote, KeyValues, Loading, Panel, Time } from '../ui.tsx';

const SHA = /^[0-9a-f]{4,64}$/i;

function PlanForm({ head = '', base = '' }: { head?: string; base?: string }) {
  const [h, setH] = useState(head);
  const [b, setB] = useState(base);
  return (
    <form
      class="inline-form"
      aria-label="Plan a commit"
      onSubmit={(e) => {
        e.preventDefault();
        if (SHA.test(h.trim())) navigate(href('plan', h.trim(), { base: b.trim() }));
      }}
    >
      <div class="field">
        <label for="plan-head">Commit</label>
        <input id="plan-head" required pattern="[0-9a-fA-F]{4,64}" spellcheck={false} autocomplete="off" value={h} onInput={(e) => setH((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="plan-base">Against (default: the applied revision)</label>
        <input id="plan-base" pattern="[0-9a-fA-F]{4,64}" spellcheck={false} autocomplete="off" value={b} onInput={(e) => setB((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <button type="submit">Show plan</button>
    </form>
  );
}

export function RevisionsPage() {
  const list = useResource<RevisionList>('/v1/revisions');
  const revisions = list.data?.revisions ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Revisions</h1>
      <div class="grid">
        <Panel title="Plan of a commit" wide>
          <p class="muted small">What merging a commit would do to the fleet (the review <code>fleetform diff</code> prints), counted over your devices.</p>
          <PlanForm />
        </Panel>
        <Panel title="Recorded revisions" wide>
          <ErrorNote error={list.error} />
          {list.loading && <Loading />}
          {list.data && revisions.length === 0 && <Empty>No revision recorded yet.</Empty>}
          {revisions.length > 0 && (
            <div class="table-scroll">
              <table class="revisions">
                <thead>
                  <tr>
                    <th scope="col">commit</th>
                    <th scope="col">status</th>
                    <th scope="col">message</th>
                    <th scope="col">author</th>
                    <th scope="col">committed</th>
                    <th scope="col" class="num">issues</th>
                    <th scope="col">
                      <span class="visually-hidden">plan</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {revisions.map((r) => (
                    <tr key={r.sha} data-sha={r.sha}>
                      <th scope="row"><a href={href('revisions', r.sha)}><code>{shortSha(r.sha)}</code></a></th>
                      <td>
                        <Badge value={r.status} />
                        {r.sha === list.data?.active && <Badge value="converged" label="active" />}
                      </td>
                      <td class="message">{(r.message ?? '').split('\n')[0]}</td>
                      <td>{r.author ?? '—'}</td>
                      <td><Time iso={r.committedAt} /></td>
                      <td class="num">{r.issueCount}</td>
                      <td><a href={href('plan', r.sha)}>plan</a></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
      </div>
    </>
  );
}

export function RevisionPage({ sha }: { sha: string }) {
  const revision = useResource<Revision>(`/v1/revisions/${encodeURIComponent(sha)}`, 0);
  const r = revision.data;
  return (
    <>
      <h1 tabIndex={-1}>
        Revision <code>{shortSha(sha)}</code>
      </h1>
      <p>
        <a href={href('revisions')}>All revisions</a> · <a href={href('plan', sha)}>Plan of this commit</a>
      </p>
      <ErrorNote error={revision.error} />
      {revision.loading && <Loading />}
      {r && (
        <div class="grid">
          <Panel title="Commit" wide>
            <KeyValues
              rows={[
                ['sha', <code>{r.sha}</code>],
                ['status', <Badge value={r.status} />],
                ['author', r.author],
                ['committed', <Time iso={r.committedAt} />],
                ['recorded', <Time iso={r.recordedAt} />],
                ['applied', r.appliedAt ? <Time iso={r.appliedAt} /> : '—'],
              ]}
            />
            <pre class="commit-message">{r.message ?? ''}</pre>
          </Panel>
          <Panel title={`Issues (${r.issues?.length ?? 0})`} wide>
            {(r.issues?.length ?? 0) === 0 ? (
              <Empty>No issue.</Empty>
            ) : (
              <div class="table-scroll">
                <table class="issues-table">
                  <thead>
                    <tr>
                      <th scope="col">where</th>
                      <th scope="col">severity</th>
                      <th scope="col">code</th>
                      <th scope="col">path</th>
                      <th scope="col">message</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.issues?.map((issue, i) => (
                      <tr key={i}>
                        <td><code>{`${issue.file}:${issue.line}:${issue.column}`}</code></td>
                        <td><Badge value={issue.severity === 'error' ? 'rejected' : 'warning'} label={issue.severity} /></td>
                        <td><code>{issue.code}</code></td>
                        <td>{issue.path ? <code>{issue.path}</code> : '—'}</td>
                        <td>{issue.message}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Panel>
        </div>
      )}
    </>
  );
}

export function PlanPage({ sha }: { sha: string }) {
  const base = route.value.query.get('base') ?? '';
  const path = withQuery(`/v1/revisions/${encodeURIComponent(sha)}/plan`, { base, format: 'markdown' });
  // A plan is computed in the engine, one at a time: asked once, not polled.
  const plan = useResource<string>(path, 0, (p) => api.getText(p));
  return (
    <>
      <h1 tabIndex={-1}>
        Plan of <code>{shortSha(sha)}</code>
        {base && (
          <>
            {' '}
            against <code>{shortSha(base)}</code>
          </>
        )}
      </h1>
      <p>
        <a href={href('revisions')}>All revisions</a> · <a href={href('revisions', sha)}>This revision</a>
      </p>
      <Panel title="Another commit" wide>
        <PlanForm key={`${sha}-${base}`} head={sha} base={base} />
      </Panel>
      <ErrorNote error={plan.error} what="The plan" />
      {plan.loading && <Loading what="Computing the plan" />}
      {plan.data !== null && (
        <Panel title="Review" wide>
          <MarkdownView blocks={parseMarkdown(plan.data)} />
        </Panel>
      )}
    </>
  );
}
