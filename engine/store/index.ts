// The store's public face: PostgreSQL (embedded or DATABASE_URL), migrations, the fleet store.
export { FleetStore } from './store.ts';
export type { OpenStoreOptions } from './store.ts';
export type { CheckInBatching, CheckInContext, CheckInRecord, CheckInStore, FirmwareEventRecord } from './check-ins.ts';
export type { DeviceFilter, DeviceStore, NewDevice } from './devices.ts';
export type { RevisionStore } from './revisions.ts';
export type { RolloutRuntimeState, RolloutStore, ThrottleSlots } from './rollouts.ts';
export type { CommandStore } from './commands.ts';
export type { OperatorTokenStore } from './operator-tokens.ts';
export type { CommandRow, CommandStatus, DeviceRow, FirmwareEventRow, OperatorRole, OperatorTokenRow, RevisionRow } from './entities.ts';
export { startEmbeddedPostgres, freePort } from './embedded-postgres.ts';
export type { EmbeddedPostgresOptions, RunningPostgres } from './embedded-postgres.ts';
export { StoreError, DatabaseUnavailableError, DeviceExistsError, isConnectionFailure } from './errors.ts';
export { ADVISORY_LOCK_GIT_FOLLOWER, REVISION_CHANNEL, RevisionChannel } from './notify.ts';
export type { RevisionChannelOptions } from './notify.ts';
export { ProvisioningStore, ProvisioningTx, LeaseLostError, UNISSUED_TOKEN_HASH } from './provisioning.ts';
export { ProvisioningUploadStore, CarrierRateBuckets, type UploadRow } from './provisioning-uploads.ts';
export type {
  BatchLease,
  BatchProgress,
  BatchRow,
  LeasedBatch,
  NewProvisioningJob,
  NewProvisioningRow,
  ProvisionedDevice,
  ProvisioningFailureRow,
  ProvisioningJobRow,
  ProvisioningJobStatus,
  ProvisioningProgress,
  ProvisioningTaskStates,
  RowOutcomeUpdate,
} from './provisioning.ts';
