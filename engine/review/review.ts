// A review of a change: HEAD validated, the semantic diff (firmware first), and the fleet impact.
import {
  hasErrors,
  type CommitInfo,
  type Issue,
  type Snapshot,
  type SourceTree,
} from '../model/index.ts';
import { buildSnapshot, compileSnapshot, loadResources, type SecretSources, type SecretVault, type SnapshotCheck } from '../config/index.ts';
import { reviewFirmware, type FirmwareReview } from './firmware.ts';
import type { FleetDevice } from './fleet.ts';
import { fleetImpact, type FirmwarePort, type FleetImpact } from './impact.ts';
import { diffResources, type ResourceChange, type ResourceSide } from './semantic.ts';

export interface RevisionSummary {
  revision: string;
  commit?: CommitInfo;
  errors: number;
  warnings: number;
}

export interface Review {
  base: RevisionSummary;
  head: RevisionSummary;
  /** Every issue of HEAD, sorted (listed first by every renderer). */
  headIssues: Issue[];
  headValid: boolean;
  firmware: FirmwareReview;
  /** Every resource added, removed or changed (firmware kinds included), firmware kinds first. */
  resources: ResourceChange[];
  /** Null without a fleet, or when HEAD is invalid (see impactNote). */
  impact: FleetImpact | null;
  impactNote: string | null;
}

export interface ReviewInput {
  base: SourceTree;
  head: SourceTree;
  /** The fleet's devices with their last reported firmware; without them there is no impact section. */
  devices?: readonly FleetDevice[];
  /** Needed with devices: the firmware planner (see firmwarePort()). */
  firmware?: FirmwarePort;
  /** age identity: compare decrypted secrets in config hashes (otherwise by ciphertext). */
  identity?: string;
  /** Checks to run beyond the built-in ones (as `validate` does). */
  checks?: readonly SnapshotCheck[];
  /** The secret sources HEAD's secretRefs may name (the engine's; default FLEETFORM_SECRET_* variables, no files). */
  secretSources?: SecretSources;
}

interface Compiled {
  summary: RevisionSummary;
  issues: Issue[];
  sides: ResourceSide[];
  /** Compiled when valid; else a best-effort snapshot of the resources that are valid on their own. */
  snapshot: Snapshot;
  valid: boolean;
  secrets: SecretVault;
}

async function compile(tree: SourceTree, input: ReviewInput): Promise<Compiled> {
  const result = await compileSnapshot(tree, {
    ...(input.identity ? { identity: input.identity } : {}),
    ...(input.checks ? { checks: input.checks } : {}),
    ...(input.secretSources ? { secretSources: input.secretSources } : {}),
  });
  const resources = result.snapshot ? result.snapshot.resources : loadResources(tree).resources;
  const errors = result.issues.filter((issue) => issue.severity === 'error').length;
  return {
    summary: {
      revision: tree.revision,
      ...(tree.commit ? { commit: tree.commit } : {}),
      errors,
      warnings: result.issues.length - errors,
    },
    issues: result.issues,
    sides: resources.map(({ resource, file }) => ({ resource, file })),
    snapshot: result.snapshot ?? buildSnapshot(tree.revision, resources),
    valid: !hasErrors(result.issues),
    secrets: result.secrets,
  };
}

export async function reviewChange(input: ReviewInput): Promise<Review> {
  const [base, head] = [await compile(input.base, input), await compile(input.head, input)];
  let impact: FleetImpact | null = null;
  let impactNote: string | null = null;
  if (!input.devices) impactNote = 'no fleet given (--fleet FILE or --database-url URL)';
  else if (!input.firmware) impactNote = 'no firmware planner given';
  else if (!head.valid) impactNote = 'HEAD is invalid: the engine would reject it, so it has no fleet impact';
  else {
    impact = fleetImpact({
      base: base.snapshot,
      head: head.snapshot,
      devices: input.devices,
      firmware: input.firmware,
      baseSecrets: base.secrets,
      headSecrets: head.secrets,
    });
    if (!base.valid) impactNote = `BASE has ${base.summary.errors} errors: impact is against its valid resources only`;
  }
  return {
    base: base.summary,
    head: head.summary,
    headIssues: head.issues,
    headValid: head.valid,
    firmware: reviewFirmware(base.sides, head.sides),
    resources: diffResources(base.sides, head.sides),
    impact,
    impactNote,
  };
}

export type FailOn = 'blocked' | 'any';

/** 1 when HEAD is invalid; 3 when the --fail-on policy trips; else 0. */
export function reviewExitCode(review: Review, failOn?: FailOn): number {
  if (!review.headValid) return 1;
  if (failOn && review.impact) {
    if (failOn === 'blocked' && review.impact.firmware.newlyBlocked.length > 0) return 3;
    if (failOn === 'any' && review.impact.affected > 0) return 3;
  }
  return 0;
}
