// The fleet file: devices and their last reported firmware, the input of fleet impact.
// JSON Lines (one device per line) or JSON (an array, or {"devices": [...]}). `fleetform fleet export`
// writes it from the engine's database; tests and benchmarks generate it.
import type { DeviceIdentity, FirmwareVersions, JsonObject } from '../model/index.ts';

export interface FleetDevice extends DeviceIdentity {
  /** Last reported firmware per component; `{}` for a device that never checked in. */
  firmware: FirmwareVersions;
  /** Last reported config hash, if known (informational). */
  configHash?: string | null;
}

export class FleetFileError extends Error {
  readonly code = 'fleet-file';
  constructor(readonly problems: readonly { line: number; message: string }[]) {
    super(
      `fleet file: ${problems.length} bad ${problems.length === 1 ? 'entry' : 'entries'}: ` +
        problems
          .slice(0, 5)
          .map((p) => `line ${p.line}: ${p.message}`)
          .join('; '),
    );
    this.name = 'FleetFileError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** One device entry, or the reason it is not one. */
export function parseFleetDevice(value: unknown): FleetDevice | string {
  if (!isRecord(value)) return 'expected an object';
  const { id, profile, site, labels = {}, firmware = {}, configHash, configOverride } = value;
  if (typeof id !== 'string' || id === '') return 'id: expected a non-empty string';
  if (typeof profile !== 'string') return `${id}: profile: expected a string`;
  if (typeof site !== 'string') return `${id}: site: expected a string`;
  if (!stringMap(labels)) return `${id}: labels: expected an object of strings`;
  if (!stringMap(firmware)) return `${id}: firmware: expected an object of component → version`;
  const device: FleetDevice = { id, profile, site, labels, firmware };
  if (typeof configHash === 'string' || configHash === null) device.configHash = configHash;
  if (isRecord(configOverride)) device.configOverride = configOverride as JsonObject;
  return device;
}

/** Accumulates devices line by line (so a large file can be streamed); throws FleetFileError from `finish`. */
export class FleetFileReader {
  readonly devices: FleetDevice[] = [];
  private readonly problems: { line: number; message: string }[] = [];
  private readonly seen = new Set<string>();

  addLine(text: string, line: number): void {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('//')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      this.problems.push({ line, message: `not JSON (${error instanceof Error ? error.message : String(error)})` });
      return;
    }
    this.add(value, line);
  }

  /**
   * Many lines at once: one JSON.parse of `[line,line,…]` is much cheaper than one per line. Falls back to
   * line by line (for exact line numbers in problems) when the batch does not parse into one value per line.
   */
  addLines(texts: readonly string[], firstLine: number): void {
    const lines: number[] = [];
    const bodies: string[] = [];
    texts.forEach((text, i) => {
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('//')) return;
      lines.push(firstLine + i);
      bodies.push(trimmed);
    });
    let values: unknown;
    try {
      values = JSON.parse('[' + bodies.join(',') + ']');
    } catch {
      values = null;
    }
    if (!Array.isArray(values) || values.length !== bodies.length) {
      bodies.forEach((body, i) => this.addLine(body, lines[i] as number));
      return;
    }
    values.forEach((value: unknown, i) => this.add(value, lines[i] as number));
  }

  add(value: unknown, line: number): void {
    const device = parseFleetDevice(value);
    if (typeof device === 'string') this.problems.push({ line, message: device });
    else if (this.seen.has(device.id)) this.problems.push({ line, message: `${device.id}: listed twice` });
    else {
      this.seen.add(device.id);
      this.devices.push(device);
    }
  }

  finish(): FleetDevice[] {
    if (this.problems.length > 0) throw new FleetFileError(this.problems);
    return this.devices;
  }
}

/** A whole fleet file's text: JSON (array or {devices}) when it starts with `[` or `{"devices"`, else JSON Lines. */
export function parseFleetFile(text: string): FleetDevice[] {
  const reader = new FleetFileReader();
  const start = text.trimStart();
  if (start.startsWith('[') || /^\{\s*"devices"\s*:/.test(start)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new FleetFileError([{ line: 1, message: `not JSON (${error instanceof Error ? error.message : String(error)})` }]);
    }
    const list = Array.isArray(value) ? value : isRecord(value) && Array.isArray(value.devices) ? value.devices : null;
    if (!list) throw new FleetFileError([{ line: 1, message: 'expected an array of devices or {"devices": [...]}' }]);
    list.forEach((item: unknown, index: number) => reader.add(item, index + 1));
    return reader.finish();
  }
  reader.addLines(text.split('\n'), 1);
  return reader.finish();
}
