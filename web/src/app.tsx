// The shell: a skip link, the header with navigation and who is signed in, and the page of the route.
import { useEffect } from 'preact/hooks';
import { ago } from './format.ts';
import { engineUnreachable, forgetCapabilities, lastAnswerAt } from './poll.ts';
import { href, route } from './router.ts';
import { me, resume, resumeProblem, signOut, token } from './session.ts';
import { AlertPage, AlertsPage } from './pages/alerts.tsx';
import { DevicePage } from './pages/device.tsx';
import { DevicesPage } from './pages/devices.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { JobPage, ProvisioningPage } from './pages/provisioning.tsx';
import { PlanPage, RevisionPage, RevisionsPage } from './pages/revisions.tsx';
import { RolloutsPage } from './pages/rollouts.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { Loading } from './ui.tsx';

const SECTIONS: [string, string][] = [
  ['', 'Overview'],
  ['revisions', 'Revisions'],
  ['rollouts', 'Rollouts'],
  ['devices', 'Devices'],
  ['alerts', 'Alerts'],
  ['provisioning', 'Provisioning'],
];

function Page() {
  const [section = '', id, more] = route.value.parts;
  switch (section) {
    case '':
      return <OverviewPage />;
    case 'revisions':
      return id ? <RevisionPage sha={id} /> : <RevisionsPage />;
    case 'plan':
      return id ? <PlanPage sha={id} /> : <RevisionsPage />;
    case 'rollouts':
      return <RolloutsPage name={id} />;
    case 'devices':
      return id ? <DevicePage id={id} /> : <DevicesPage />;
    case 'alerts':
      return id ? <AlertPage id={id} /> : <AlertsPage />;
    case 'provisioning':
      return id ? <JobPage id={id} /> : <ProvisioningPage />;
    default:
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            No console page at <code>{[section, id, more].filter(Boolean).join('/')}</code>. <a href={href()}>Overview</a>
          </p>
        </>
      );
  }
}

function Live() {
  const at = lastAnswerAt.value;
  if (engineUnreachable.value) {
    return (
      <span class="live down" role="status">
        engine not answering — retrying
      </span>
    );
  }
  return (
    <span class="live" title="Pages refresh on their own while this tab is visible">
      {at ? `live · updated ${ago(at.toISOString())}` : 'live'}
    </span>
  );
}

export function App() {
  const section = route.value.parts[0] ?? '';
  const active = section === 'plan' ? 'revisions' : section;

  useEffect(() => {
    void resume();
  }, [token.value]);

  // A new page: focus its heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    const heading = document.querySelector<HTMLElement>('main h1');
    heading?.focus({ preventScroll: true });
  }, [route.value]);

  if (!token.value) return <SignInPage />;
  if (!me.value) {
    return (
      <main id="main">
        <Loading what="Signing in" />
        {resumeProblem.value && <p class="notice" role="status">{resumeProblem.value}: retrying.</p>}
      </main>
    );
  }
  const who = me.value;
  const tenants = who.tenants.includes('*') ? 'all tenants' : who.tenants.join(', ');
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          fleetform
        </a>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([path, label]) => (
              <li key={path}>
                <a href={path ? href(path) : href()} aria-current={active === path ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <Live />
          <span class="identity">
            <strong>{who.name}</strong> · <span data-role={who.role}>{who.role}</span> · {tenants}
          </span>
          <button
            type="button"
            class="small"
            onClick={() => {
              forgetCapabilities();
              signOut();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}
