// A compiled, immutable view of one revision of the config repo, with indexes.
import type {
  AlertRule,
  CompatibilityMatrix,
  DeviceGroup,
  DeviceProfile,
  FirmwareRelease,
  ResourceDocument,
  Rollout,
  Site,
  Tenant,
} from './resources.ts';
import type { SourceLocation } from './issues.ts';

/** A resource as loaded: the document plus where it came from, so later checks can point at it. */
export interface LoadedResource<R extends ResourceDocument = ResourceDocument> {
  resource: R;
  file: string;
  /** Index of the document inside its file (0-based). */
  documentIndex: number;
  /** Location of a JSON path (e.g. ['spec', 'bundles', 2, 'components']) inside the document; falls back to the nearest parent. */
  locate(path: readonly (string | number)[]): SourceLocation;
}

export interface Snapshot {
  /** Commit sha (or working-tree content hash). */
  readonly revision: string;
  readonly resources: readonly LoadedResource[];
  readonly tenants: ReadonlyMap<string, Tenant>;
  readonly profiles: ReadonlyMap<string, DeviceProfile>;
  readonly sites: ReadonlyMap<string, Site>;
  /** Ordered by priority ascending, then name: the merge order. */
  readonly groups: readonly DeviceGroup[];
  /** hardware → component → releases sorted by semver ascending. */
  readonly releases: ReadonlyMap<string, ReadonlyMap<string, readonly FirmwareRelease[]>>;
  /** hardware → matrix. */
  readonly matrices: ReadonlyMap<string, CompatibilityMatrix>;
  /** Ordered by priority ascending, then name. */
  readonly rollouts: readonly Rollout[];
  readonly alertRules: readonly AlertRule[];
}
