// Small builders for firmware resources, so tests read like the matrices they describe.
import type { CompatibilityMatrix, FirmwareRelease, FirmwareVersions, Rollout, RolloutSpec } from '../../engine/model/index.ts';

export function release(hardware: string, component: string, version: string, size: number, requires?: Record<string, string>): FirmwareRelease {
  return {
    apiVersion: 'fleetform/v1',
    kind: 'FirmwareRelease',
    metadata: { name: `${hardware}-${component}-${version}` },
    spec: {
      hardware,
      component,
      version,
      artifact: { url: `https://fw.example/${hardware}/${component}/${version}.bin`, sha256: '0'.repeat(64), size },
      ...(requires ? { requires } : {}),
    },
  };
}

export function bundlesMatrix(
  hardware: string,
  components: string[],
  bundles: { name: string; version: string; components: FirmwareVersions }[],
  options: { transitional?: FirmwareVersions[]; allowDowngrade?: boolean } = {},
): CompatibilityMatrix {
  return {
    apiVersion: 'fleetform/v1',
    kind: 'CompatibilityMatrix',
    metadata: { name: hardware },
    spec: {
      hardware,
      components,
      strategy: 'bundles',
      bundles,
      ...(options.transitional ? { transitional: options.transitional } : {}),
      ...(options.allowDowngrade !== undefined ? { allowDowngrade: options.allowDowngrade } : {}),
    },
  };
}

export function constraintsMatrix(hardware: string, components: string[], options: { transitional?: FirmwareVersions[]; allowDowngrade?: boolean } = {}): CompatibilityMatrix {
  return {
    apiVersion: 'fleetform/v1',
    kind: 'CompatibilityMatrix',
    metadata: { name: hardware },
    spec: {
      hardware,
      components,
      strategy: 'constraints',
      ...(options.transitional ? { transitional: options.transitional } : {}),
      ...(options.allowDowngrade !== undefined ? { allowDowngrade: options.allowDowngrade } : {}),
    },
  };
}

export function rollout(name: string, spec: Partial<RolloutSpec> = {}): Rollout {
  return {
    apiVersion: 'fleetform/v1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      selector: {},
      target: { bundle: 'app' },
      waves: [
        { name: 'canary', percent: 5 },
        { name: 'wider', percent: 25 },
        { name: 'all', percent: 100 },
      ],
      activeWave: 'canary',
      failurePolicy: { maxRetries: 10, retryDelaySeconds: 1800, coolDownSeconds: 86_400, maxCycles: 3 },
      ...spec,
    },
  };
}
