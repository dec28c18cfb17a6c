// Request bodies validated with ajv (JSON Schema 2020-12). A failure names the field as a JSON path.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { CheckInRequest, JsonObject } from '../model/index.ts';
import { InvalidBodyError } from './errors.ts';

const version = { type: 'string', minLength: 1, maxLength: 64 };
const id = { type: 'string', minLength: 1, maxLength: 128 };

const checkInSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reported', 'telemetry'],
  properties: {
    reported: {
      type: 'object',
      additionalProperties: false,
      required: ['firmware', 'configHash'],
      properties: {
        firmware: { type: 'object', maxProperties: 16, additionalProperties: version, propertyNames: { pattern: '^[a-z][a-z0-9_-]{0,31}$' } },
        configHash: { type: ['string', 'null'], maxLength: 128 },
        firmwareStep: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'status'],
          properties: {
            id,
            status: { enum: ['succeeded', 'failed'] },
            error: { type: 'string', maxLength: 2048 },
          },
        },
        commandResults: {
          type: 'array',
          maxItems: 32,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'status'],
            properties: { id, status: { enum: ['succeeded', 'failed', 'rejected'] }, output: {} },
          },
        },
        state: { type: 'object' },
      },
    },
    telemetry: {
      type: 'object',
      required: ['time'],
      properties: {
        time: { type: 'string', format: 'date-time' },
        battery: { type: 'number', minimum: 0, maximum: 100 },
        uptimeMs: { type: 'integer', minimum: 0 },
        gps: {
          type: 'object',
          required: ['lat', 'lon'],
          properties: {
            lat: { type: 'number', minimum: -90, maximum: 90 },
            lon: { type: 'number', minimum: -180, maximum: 180 },
            accuracyM: { type: 'number', minimum: 0 },
          },
        },
        ble: {
          type: 'array',
          maxItems: 64,
          items: {
            type: 'object',
            required: ['id', 'rssi'],
            properties: { id, rssi: { type: 'number', minimum: -150, maximum: 20 } },
          },
        },
        cell: {
          type: 'object',
          required: ['mcc', 'mnc', 'lac', 'cid'],
          properties: {
            mcc: { type: 'integer', minimum: 0 },
            mnc: { type: 'integer', minimum: 0 },
            lac: { type: 'integer', minimum: 0 },
            cid: { type: 'integer', minimum: 0 },
            rssi: { type: 'number' },
          },
        },
        movement: { type: 'boolean' },
        temperatureC: { type: 'number' },
      },
    },
  },
} as const;

export interface DeviceRegistration {
  id: string;
  profile: string;
  site: string;
  labels?: Record<string, string>;
  config?: JsonObject;
}

const registrationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'profile', 'site'],
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
    profile: { type: 'string', minLength: 1, maxLength: 128 },
    site: { type: 'string', minLength: 1, maxLength: 128 },
    labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 256 }, maxProperties: 64 },
    config: { type: 'object' },
  },
} as const;

export interface CommandRequest {
  type: string;
  params?: JsonObject;
}

const commandSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
    params: { type: 'object' },
  },
} as const;

const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

function fieldOf(error: ErrorObject): string {
  const base = error.instancePath;
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (error.keyword === 'required' && params.missingProperty) return `${base}/${params.missingProperty}`;
  if (error.keyword === 'additionalProperties' && params.additionalProperty) return `${base}/${params.additionalProperty}`;
  return base === '' ? '/' : base;
}

function validator<T>(schema: object): (body: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body) => {
    if (validate(body)) return body as T;
    const error = validate.errors?.[0];
    if (!error) throw new InvalidBodyError('/', 'invalid request body');
    const field = fieldOf(error);
    throw new InvalidBodyError(field, `${field}: ${error.message ?? 'is invalid'}`);
  };
}

export const validateCheckIn = validator<CheckInRequest>(checkInSchema);
export const validateRegistration = validator<DeviceRegistration>(registrationSchema);
export const validateCommand = validator<CommandRequest>(commandSchema);
