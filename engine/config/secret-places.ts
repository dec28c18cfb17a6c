// Secrets are decrypted only where git declares them: a site's Wi-Fi passwords, a webhook's secret, and the
// config fields a profile's configSchema marks `x-secret: true`. A secret form anywhere else is an error and
// is never resolved (a reference there could otherwise make the engine read what nobody declared).
import type { Issue, JsonValue, LoadedResource, ResourceKind, SecretValue } from '../model/index.ts';
import type { SnapshotCheck } from './checks.ts';
import { pointer, type JsonPath } from './parse.ts';
import { matchesPattern, profileConfigSchema, type PathPattern } from './profile-schema.ts';
import { findSecretValues } from './secrets.ts';

function isFixedSecretPlace(kind: ResourceKind, path: JsonPath): boolean {
  if (kind === 'Site') return path.length === 4 && path[0] === 'spec' && path[1] === 'wifi' && path[3] === 'password';
  if (kind === 'AlertRule') return path.length === 4 && path[0] === 'spec' && path[1] === 'actions' && path[3] === 'secret';
  return false;
}

/** The config part of a layer (checked per profile by checkConfigLayers), or null. */
function configLayerPath(kind: ResourceKind, path: JsonPath): JsonPath | null {
  if (kind === 'DeviceProfile' && path[0] === 'spec' && path[1] === 'defaults') return path.slice(2);
  if ((kind === 'Site' || kind === 'DeviceGroup') && path[0] === 'spec' && path[1] === 'config') return path.slice(2);
  return null;
}

/** A secret form outside fixed places and config layers (a rule's condition value, a command's params). */
export const checkSecretPlaces: SnapshotCheck = ({ resources, issue }) => {
  const issues: Issue[] = [];
  for (const resource of resources) {
    const kind = resource.resource.kind;
    for (const found of findSecretValues(resource.resource.spec as unknown as JsonValue, ['spec'])) {
      if (isFixedSecretPlace(kind, found.path) || configLayerPath(kind, found.path)) continue;
      issues.push(
        issue(resource, found.path, 'undeclared-secret', `${pointer(found.path)} holds a secret where a ${kind} declares none: only Wi-Fi passwords, webhook secrets and x-secret config fields hold secrets`),
      );
    }
  }
  return issues;
};

export interface PlacedSecret {
  resource: LoadedResource;
  path: JsonPath;
  secret: SecretValue;
}

/**
 * The secrets compileSnapshot decrypts or resolves: those at fixed places, and config-layer secrets in an
 * x-secret field of a profile the layer can reach (a site: any profile; a group: its profiles, or any).
 */
export function declaredSecrets(resources: readonly LoadedResource[]): PlacedSecret[] {
  const patterns = new Map<string, PathPattern[]>();
  for (const { resource } of resources) {
    if (resource.kind === 'DeviceProfile' && !patterns.has(resource.metadata.name)) patterns.set(resource.metadata.name, profileConfigSchema(resource).secretPatterns);
  }
  const every = [...patterns.values()].flat();
  const declared: PlacedSecret[] = [];
  for (const placed of resources) {
    const { resource } = placed;
    const reach =
      resource.kind === 'DeviceProfile'
        ? (patterns.get(resource.metadata.name) ?? [])
        : resource.kind === 'DeviceGroup' && resource.spec.profiles
          ? resource.spec.profiles.flatMap((name) => patterns.get(name) ?? [])
          : every;
    for (const found of findSecretValues(resource.spec as unknown as JsonValue, ['spec'])) {
      const inLayer = configLayerPath(resource.kind, found.path);
      if (isFixedSecretPlace(resource.kind, found.path) || (inLayer && reach.some((pattern) => matchesPattern(inLayer, pattern)))) {
        declared.push({ resource: placed, ...found });
      }
    }
  }
  return declared;
}
