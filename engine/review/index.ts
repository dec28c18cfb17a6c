// Review before merge: the semantic diff of two revisions (firmware first) and the fleet impact.
export { reviewChange, reviewExitCode, type Review, type ReviewInput, type RevisionSummary, type FailOn } from './review.ts';
export { diffResources, diffValues, type ResourceChange, type FieldChange, type ResourceSide } from './semantic.ts';
export { reviewFirmware, describeTarget, type FirmwareReview, type ReleaseChange, type BundleChange, type RequirementChange, type RolloutChange } from './firmware.ts';
export {
  fleetImpact,
  combinationLabel,
  type FleetImpact,
  type FirmwarePort,
  type PlanOutlook,
  type OutlookStep,
  type FirmwarePathGroup,
  type StateGroup,
  type WaveCount,
  type WavePlacement,
  type Count,
  type ImpactInput,
} from './impact.ts';
export { parseFleetFile, parseFleetDevice, FleetFileReader, FleetFileError, type FleetDevice } from './fleet.ts';
export { renderText, renderMarkdown, renderJson, renderReview, REVIEW_FORMATS, type ReviewFormat, blastRadius, formatBytes, MARKDOWN_SECTION_LINES, MARKDOWN_MAX_CHARS } from './render.ts';
export { formatResourceYaml, FormatError } from './canonical.ts';
export { firmwarePort } from './firmware-port.ts';
