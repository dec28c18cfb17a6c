// The demo's change to the example fleet, as text → text: every rollout opened to its last wave, outside
// maintenance windows, with short retry delays, and tolerant of the failures the simulator injects on
// purpose (a wave pauses itself only past half of its steps failing) — so a thousand devices converge
// in minutes instead of over nights of canary waves. Comments and layout survive (yaml Document API).
import { parseAllDocuments, isMap, isSeq } from 'yaml';

/** Injected failures and tower congestion must not pause a demo rollout by chance. */
export const DEMO_MAX_FAILURE_RATIO = 0.5;

export interface DemoRolloutChange {
  rollout: string;
  activeWave: string | null;
}

/** Rewrites the Rollout documents of one file; other documents are left as they are. */
export function openRolloutsForDemo(text: string, retryDelaySeconds = 10): { text: string; changes: DemoRolloutChange[] } {
  const documents = parseAllDocuments(text);
  const changes: DemoRolloutChange[] = [];
  if (!Array.isArray(documents)) return { text, changes };
  let touched = false;
  for (const doc of documents) {
    if (doc.errors.length > 0 || doc.get('kind') !== 'Rollout') continue;
    const spec = doc.get('spec');
    if (!isMap(spec)) continue;
    const waves = spec.get('waves');
    let last: string | null = null;
    if (isSeq(waves)) {
      for (const wave of waves.items) if (isMap(wave) && wave.has('maxFailureRatio')) wave.set('maxFailureRatio', DEMO_MAX_FAILURE_RATIO);
      const item = waves.items[waves.items.length - 1];
      const name = isMap(item) ? item.get('name') : undefined;
      if (typeof name === 'string') last = name;
    }
    if (last !== null) spec.set('activeWave', last);
    if (spec.has('useMaintenanceWindow')) spec.set('useMaintenanceWindow', false);
    const policy = spec.get('failurePolicy');
    if (isMap(policy)) {
      policy.set('retryDelaySeconds', retryDelaySeconds);
      policy.set('coolDownSeconds', retryDelaySeconds * 10);
    }
    changes.push({ rollout: String(doc.getIn(['metadata', 'name']) ?? ''), activeWave: last });
    touched = true;
  }
  if (!touched) return { text, changes };
  return { text: documents.map((d) => d.toString()).join(''), changes };
}
