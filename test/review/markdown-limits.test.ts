import { describe, expect, it } from 'vitest';
import { MARKDOWN_SECTION_LINES, renderMarkdown, reviewChange } from '../../engine/review/index.ts';
import type { SourceTree } from '../../engine/model/index.ts';
import { PROFILE, site, TENANT } from './fleet-repo.ts';

function tree(revision: string, files: Record<string, string>): SourceTree {
  return {
    revision,
    files: Object.entries(files).map(([path, text]) => ({ path, type: 'file' as const, content: new TextEncoder().encode(text) })),
  };
}

describe('markdown made for a pull-request comment', () => {
  it('cuts a very long section and says how to see all of it, keeping every <details> closed', async () => {
    const base = { 'fleet-config/tenants/acme.yaml': TENANT, 'fleet-config/profiles/locator.yaml': PROFILE };
    const sites = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`fleet-config/sites/s${i}.yaml`, site(`s${i}`, `WIFI_${i}`)]),
    );
    const review = await reviewChange({ base: tree('a'.repeat(40), base), head: tree('b'.repeat(40), { ...base, ...sites }) });
    expect(review.resources.filter((change) => change.type === 'added')).toHaveLength(400);
    const markdown = renderMarkdown(review);
    expect(markdown).toContain('… 150 more lines — run `fleetform diff --format text` for all of it.');
    const resources = markdown.slice(markdown.indexOf('<summary>Resources'));
    expect(resources.split('\n').filter((line) => line.startsWith('- **added**'))).toHaveLength(MARKDOWN_SECTION_LINES);
    expect(markdown.match(/<details>/g)?.length).toBe(markdown.match(/<\/details>/g)?.length);
    expect(markdown.length).toBeLessThan(65_536);
  });
});
