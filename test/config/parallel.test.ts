// Parsing on worker threads gives exactly what parsing in-thread gives: the same resources, issues and positions.
import { describe, expect, it } from 'vitest';
import { cachingYamlParser, compileSnapshot, parallelYamlParser, type YamlFilesParser } from '../../engine/config/index.ts';
import { DEMO_IDENTITY, MINIMAL_FLEET, exampleFleetTree, fleetWith } from './fixtures.ts';

describe('parallel YAML parsing', () => {
  it('compiles the example fleet to the same snapshot as in-thread parsing', async () => {
    const tree = exampleFleetTree();
    const inThread = await compileSnapshot(tree, { identity: DEMO_IDENTITY });
    const parallel = await compileSnapshot(tree, { identity: DEMO_IDENTITY, parseFiles: parallelYamlParser({ threads: 2, minBytes: 0 }) });
    expect(parallel.issues).toEqual(inThread.issues);
    expect(parallel.snapshot?.resources.map((r) => [r.file, r.documentIndex, r.resource])).toEqual(
      inThread.snapshot?.resources.map((r) => [r.file, r.documentIndex, r.resource]),
    );
  });

  it('reports syntax errors and later issues at the same file:line:col', async () => {
    const tree = fleetWith({
      'rules/broken.yaml': 'apiVersion: fleetform/v1\nkind: AlertRule\nmetadata: { name: x\n',
      'fleet-config/sites/lot-c.yaml': 'apiVersion: fleetform/v1\nkind: Site\nmetadata: { name: lot-c }\nspec: { tenant: nobody, timezone: UTC }\n',
    });
    const inThread = await compileSnapshot(tree);
    const parallel = await compileSnapshot(tree, { parseFiles: parallelYamlParser({ threads: 3, minBytes: 0 }) });
    expect(inThread.issues.map((i) => i.code).sort()).toEqual(['dangling-reference', 'yaml-syntax']);
    expect(parallel.issues).toEqual(inThread.issues);
  });
});

describe('the parse cache', () => {
  it('parses only the files whose text changed since the last revision, with the same result as a fresh parse', async () => {
    const parsedTexts: string[] = [];
    const counting: YamlFilesParser = async (texts) => {
      parsedTexts.push(...texts);
      return parallelYamlParser({ threads: 1 })(texts);
    };
    const parse = cachingYamlParser(counting);
    const first = await compileSnapshot(fleetWith({}), { parseFiles: parse });
    expect(parsedTexts).toHaveLength(Object.keys(MINIMAL_FLEET).length);
    parsedTexts.length = 0;

    const changedSite = MINIMAL_FLEET['fleet-config/sites/lot-b.yaml']!.replace('America/Chicago', 'America/New_York');
    const next = fleetWith({ 'fleet-config/sites/lot-b.yaml': changedSite });
    const second = await compileSnapshot(next, { parseFiles: parse });
    expect(parsedTexts).toEqual([changedSite]);
    const fresh = await compileSnapshot(next);
    expect(second.issues).toEqual(fresh.issues);
    expect(second.snapshot?.resources.map((r) => r.resource)).toEqual(fresh.snapshot?.resources.map((r) => r.resource));
    expect(second.snapshot?.sites.get('lot-b')?.spec.timezone).toBe('America/New_York');
    expect(first.snapshot?.sites.get('lot-b')?.spec.timezone).toBe('America/Chicago'); // the earlier snapshot is untouched
  });
});
