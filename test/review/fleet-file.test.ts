import { describe, expect, it } from 'vitest';
import { diffValues, FleetFileError, parseFleetFile } from '../../engine/review/index.ts';

const device = { id: 'trk-1', profile: 'locator', site: 'north', labels: { usage: 'demo' }, firmware: { mcu: '1.0.0' } };

describe('the fleet file', () => {
  it('reads JSON Lines, a JSON array and {"devices": [...]} alike', () => {
    const second = { ...device, id: 'trk-2' };
    const expected = [device, second];
    expect(parseFleetFile(`${JSON.stringify(device)}\n\n${JSON.stringify(second)}\n`)).toEqual(expected);
    expect(parseFleetFile(JSON.stringify(expected))).toEqual(expected);
    expect(parseFleetFile(JSON.stringify({ devices: expected }))).toEqual(expected);
  });

  it('defaults labels and firmware to empty (a device that never checked in)', () => {
    expect(parseFleetFile('{"id":"new","profile":"locator","site":"north"}')).toEqual([
      { id: 'new', profile: 'locator', site: 'north', labels: {}, firmware: {} },
    ]);
  });

  it('reports every bad entry with its line, including a device listed twice', () => {
    const text = [JSON.stringify(device), '{"id":"x","profile":"locator","site":"north","firmware":{"mcu":1}}', '{oops', JSON.stringify(device)].join('\n');
    let error: unknown;
    try {
      parseFleetFile(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FleetFileError);
    expect((error as FleetFileError).code).toBe('fleet-file');
    expect((error as FleetFileError).problems.map((p) => p.line)).toEqual([2, 3, 4]);
    expect((error as FleetFileError).problems[2]?.message).toBe('trk-1: listed twice');
  });
});

describe('field changes', () => {
  it('matches list elements by name, so inserting a wave is one addition, not a cascade of changes', () => {
    const before = { waves: [{ name: 'canary', percent: 5 }, { name: 'all', percent: 100 }] };
    const after = { waves: [{ name: 'canary', percent: 5 }, { name: 'wider', percent: 25 }, { name: 'all', percent: 100 }] };
    expect(diffValues(before, after)).toEqual([{ path: 'waves[wider]', type: 'added', new: { name: 'wider', percent: 25 } }]);
  });

  it('reports a reordering of named elements, since order can matter', () => {
    const before = { bundles: [{ name: 'a' }, { name: 'b' }] };
    const after = { bundles: [{ name: 'b' }, { name: 'a' }] };
    expect(diffValues(before, after)).toEqual([{ path: 'bundles[*]', type: 'changed', old: ['a', 'b'], new: ['b', 'a'] }]);
  });

  it('never carries a secret value, even a plaintext one under a secret key', () => {
    const changes = diffValues({ wifi: { password: 'hunter2' } }, { wifi: { password: 'hunter3' } });
    expect(changes).toEqual([{ path: 'wifi.password', type: 'changed', secret: true }]);
    const added = diffValues({}, { webhook: { url: 'https://x', secret: { encrypted: 'AGE...' } } });
    expect(added).toEqual([{ path: 'webhook', type: 'added', secret: true, source: { new: 'age-encrypted' } }]);
    expect(JSON.stringify(added)).not.toContain('AGE');
  });

  it('shows old → new for plain values', () => {
    expect(diffValues({ a: { b: 1, c: [1, 2] } }, { a: { b: 2, c: [1, 2, 3] } })).toEqual([
      { path: 'a.b', type: 'changed', old: 1, new: 2 },
      { path: 'a.c', type: 'changed', old: [1, 2], new: [1, 2, 3] },
    ]);
  });
});
