// Canonical formatting of resource files, so that `git diff` of a manifest shows meaning, not style:
// keys in a fixed order (apiVersion, kind, metadata, spec; inside spec the order of the model), two-space
// indentation, no line folding. Comments stay with the keys they sit above (the yaml Document API keeps them).
import { isMap, isSeq, parseAllDocuments, type Document, type Node, type Pair, type YAMLMap } from 'yaml';

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
    order: ['hardware', 'components', 'role', 'services', 'matrix', 'checkIn', 'configSchema', 'defaults'],
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
    order: ['priority', 'selector', 'profiles', 'sites', 'devices', 'config'],
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
      if (first?.commentBefore) {
        doc.commentBefore = doc.commentBefore ? `${doc.commentBefore}\n${first.commentBefore}` : first.commentBefore;
        first.commentBefore = undefined;
        first.spaceBefore = false;
      }
      const kind = root.get('kind');
      apply(root, documentShape(typeof kind === 'string' ? kind : ''));
    }
    let rendered = doc.toString(TO_STRING);
    // Every document after the first needs its `---`; the first keeps one only if the author wrote it.
    if (index > 0 && !rendered.startsWith('---')) {
      const marker = rendered.match(/^((?:#.*\n|\n)*)/)?.[1] ?? '';
      rendered = marker + '---\n' + rendered.slice(marker.length);
    }
    out += rendered;
  });
  return out;
}
