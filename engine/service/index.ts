// The running engine's public face.
export { Engine } from './engine.ts';
export type { EngineOptions } from './engine.ts';
export type { CheckInObserver } from './checkin.ts';
export type { ActiveRevision } from './revisions.ts';
export { generateToken, hashToken } from './tokens.ts';
export * from './errors.ts';
export { ProvisioningService } from './provisioning.ts';
export type { ProvisioningServiceOptions, ProvisioningWorkerHooks, ProvisioningWorkerHandle, ProvisioningPrincipal } from './provisioning.ts';
export { HttpCarrier, CarrierSecretMissingError } from './provisioning-carrier.ts';
export type { CarrierSecretResolver } from './provisioning-carrier.ts';
