// Canonical formatting of resource files, so that `git diff` of a manifest shows meaning, not style:
// keys in a fixed order (apiVersion, kind, metadata, spec; inside spec the order of the model), two-space
// indentation, no line folding. Comments stay with the keys they sit above (the yaml Document API keeps them).
import { isMap, isSeq, parseAllDocuments, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';

interface Shape {
  order?: readonly string[];
  children?: Readonly<Record<string, Shape>>;
  /** Shape of each element of a sequence value. */
  items?: Shape;
}

const labelSelector: Shape = {
  order: ['matchLabels', 'matchExpressions'],
  children: { matchExpressions: { items: { order: ['key', 'operator', 'values'] } } },
};

const SPEC_SHAPES: Readonly<Record<string, Shape>> = {
  Tenant: { order: ['displayName'] },
  DeviceProfile: {
    order: ['hardware', 'components', 'role', 'services', 'checkIn', 'matrix', 'configSchema', 'defaults'],
    children: { checkIn: { order: ['intervalSeconds', 'jitterPercent', 'upgradingIntervalSeconds', 'offlineAfterMissed'] } },
  },
  Site: {
    order: ['tenant', 'timezone', 'location', 'maintenanceWindow', 'beacons', 'cellTowers', 'wifi', 'config'],
    children: {
      location: { order: ['lat', 'lon', 'address'] },
      maintenanceWindow: { order: ['days', 'start', 'end'] },
      beacons: { items: { order: ['id', 'lat', 'lon', 'txPower', 'floor'] } },
      cellTowers: { items: { order: ['mcc', 'mnc', 'lac', 'cid', 'lat', 'lon', 'rangeM'] } },
      wifi: { items: { order: ['ssid', 'security', 'priority', 'password'] } },
    },
  },
  DeviceGroup: {
    order: ['selector', 'profiles', 'sites', 'devices', 'priority', 'config'],
    children: { selector: labelSelector },
  },
  FirmwareRelease: {
    order: ['hardware', 'component', 'version', 'artifact', 'requires', 'releaseNotes'],
    children: { artifact: { order: ['url', 'sha256', 'size'] } },
  },
  CompatibilityMatrix: {
    order: ['hardware', 'components', 'strategy', 'allowDowngrade', 'bundles', 'transitional'],
    children: { bundles: { items: { order: ['name', 'version', 'components'] } } },
  },
  Rollout: {
    order: ['selector', 'target', 'waves', 'activeWave', 'throttle', 'failurePolicy', 'useMaintenanceWindow', 'allowDowngrade', 'paused', 'priority'],
    children: {
      selector: { order: ['profiles', 'sites', 'groups', 'matchLabels', 'matchExpressions'], children: labelSelector.children ?? {} },
      target: { order: ['bundle', 'components'] },
      waves: { items: { order: ['name', 'percent', 'maxFailureRatio', 'minDevices'] } },
      throttle: { order: ['maxInFlight', 'maxInFlightPerCell', 'stepTimeoutSeconds'] },
      failurePolicy: { order: ['maxRetries', 'retryDelaySeconds', 'coolDownSeconds', 'maxCycles'] },
    },
  },
  AlertRule: {
    order: ['scope', 'severity', 'description', 'conditions', 'aggregate', 'dedupeKey', 'holdDownSeconds', 'actions'],
    children: {
      aggregate: { order: ['groupBy', 'measure', 'threshold', 'minDevices'] },
      actions: { items: { order: ['type', 'url', 'secret', 'command', 'params'] } },
    },
  },
};

function documentShape(kind: string): Shape {
  const spec = SPEC_SHAPES[kind];
  return {
    order: ['apiVersion', 'kind', 'metadata', 'spec'],
    children: { metadata: { order: ['name', 'labels', 'annotations'] }, ...(spec ? { spec } : {}) },
  };
}

function keyOf(pair: Pair): string {
  const key = pair.key as Node | string | null;
  if (key && typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return String(key);
}

/** Known keys in the shape's order, then the others in the order the author wrote them (a stable sort). */
function orderMap(map: YAMLMap, shape: Shape): void {
  const order = shape.order ?? [];
  const rank = (pair: Pair, index: number): number => {
    const at = order.indexOf(keyOf(pair));
    return at >= 0 ? at : order.length + index;
  };
  const ranked = map.items.map((pair, index) => ({ pair, rank: rank(pair as Pair, index) }));
  ranked.sort((a, b) => a.rank - b.rank);
  map.items = ranked.map((entry) => entry.pair);
  for (const pair of map.items) {
    const child = shape.children?.[keyOf(pair as Pair)];
    if (child) apply((pair as Pair).value as Node | null, child);
  }
}

function apply(node: Node | null, shape: Shape): void {
  if (!node) return;
  if (isMap(node)) orderMap(node, shape);
  else if (isSeq(node) && shape.items) for (const item of node.items) apply(item as Node, shape.items);
}

/**
 * The house style is `[mcu, ble]` but `{ name: canary, percent: 5 }`; the yaml package pads both or neither.
 * Find each flow sequence of the rendered text by its exact source range and drop its inner padding.
 */
function unpadFlowSequences(text: string): string {
  const deletions: number[] = [];
  visit(parseDocument(text), {
    Seq(_key, node) {
      if (!node.flow || !node.range || node.items.length === 0) return;
      const [start, , end] = node.range;
      if (text[start] === '[' && text[start + 1] === ' ') deletions.push(start + 1);
      const close = text.lastIndexOf(']', end - 1);
      if (close > start + 1 && text[close - 1] === ' ' && text[close - 2] !== '\n') deletions.push(close - 1);
    },
  });
  if (deletions.length === 0) return text;
  let out = text;
  for (const at of [...new Set(deletions)].sort((a, b) => b - a)) out = out.slice(0, at) + out.slice(at + 1);
  return out;
}

export class FormatError extends Error {
  readonly code = 'yaml-syntax';
}

const TO_STRING = { indent: 2, indentSeq: true, lineWidth: 0, minContentWidth: 0 } as const;

/** The canonical text of a resource file. Throws FormatError when the YAML does not parse (nothing to format safely). */
export function formatResourceYaml(text: string): string {
  const documents: Document.Parsed[] = parseAllDocuments(text, { keepSourceTokens: false }) as Document.Parsed[];
  if (!Array.isArray(documents)) return text;
  for (const doc of documents) {
    if (doc.errors.length > 0) throw new FormatError(doc.errors[0]?.message.split('\n')[0] ?? 'YAML syntax error');
  }
  let out = '';
  documents.forEach((doc, index) => {
    const root = doc.contents as Node | null;
    if (isMap(root)) {
      // A comment above the first key is the file's header (modeline, description): it stays on top.
      const first = root.items[0]?.key as Node | undefined;
      const header = first?.commentBefore;
      if (first && header) first.commentBefore = undefined;
      const kind = root.get('kind');
      apply(root, documentShape(typeof kind === 'string' ? kind : ''));
      const top = root.items[0]?.key as Node | undefined;
      if (top && header) top.commentBefore = top.commentBefore ? `${header}\n${top.commentBefore}` : header;
    }
    let rendered = unpadFlowSequences(doc.toString(TO_STRING));
    // Every document after the first needs its `---`; the first keeps one only if the author wrote it.
    if (index > 0 && !rendered.startsWith('---')) {
      const marker = rendered.match(/^((?:#.*\n|\n)*)/)?.[1] ?? '';
      rendered = marker + '---\n' + rendered.slice(marker.length);
    }
    out += rendered;
  });
  return out;
}
