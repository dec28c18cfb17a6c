// A carrier file (YAML or JSON) → an HttpCarrierConfig, or every problem with `file:line:col`
// and its JSON path. Credentials are never written in the file: only `secretRef`s to the
// engine's declared secret sources.
import { LineCounter, isNode, parseDocument } from 'yaml';
import type { CarrierAuth, CarrierSecret, HttpCarrierConfig } from './carrier.ts';

export interface CarrierConfigIssue {
  file: string;
  line: number;
  column: number;
  /** JSON pointer, e.g. `/rateLimit/perSecond`. */
  path: string;
  message: string;
}

export class CarrierConfigError extends Error {
  readonly code = 'invalid-carrier-config';
  constructor(readonly issues: CarrierConfigIssue[]) {
    super(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'));
    this.name = 'CarrierConfigError';
  }
}

type Path = (string | number)[];
type Obj = Record<string, unknown>;

const DEFAULT_ACTIVATED = [200, 201, 202, 204];
const DEFAULT_REJECTED = [400, 403, 404, 409, 422];
const DEFAULT_RETRYABLE = [408, 425, 429, 500, 502, 503, 504];
const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

class Checker {
  readonly problems: { path: Path; message: string }[] = [];

  fail(path: Path, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  object(value: unknown, path: Path, keys: readonly string[]): Obj | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.fail(path, 'must be a mapping');
    for (const key of Object.keys(value)) if (!keys.includes(key)) this.fail([...path, key], `unknown key (expected one of ${keys.join(', ')})`);
    return value as Obj;
  }

  string(value: unknown, path: Path, pattern?: RegExp, hint?: string): string | undefined {
    if (typeof value !== 'string' || value === '') return this.fail(path, 'must be a non-empty string');
    if (/[\0\r\n]/.test(value)) return this.fail(path, 'must not hold NUL or line breaks');
    if (pattern && !pattern.test(value)) return this.fail(path, hint ?? `must match ${pattern}`);
    return value;
  }

  number(value: unknown, path: Path, min: number, max: number, integer = true): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      return this.fail(path, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return value;
  }

  statuses(value: unknown, path: Path, fallback: number[]): number[] {
    if (value === undefined) return fallback;
    if (!Array.isArray(value)) return this.fail(path, 'must be a list of HTTP status codes') ?? fallback;
    return value.map((v, i) => this.number(v, [...path, i], 100, 599) ?? 0);
  }

  strings(value: unknown, path: Path): string[] {
    if (!Array.isArray(value) || value.length === 0) return this.fail(path, 'must be a non-empty list of strings') ?? [];
    return value.map((v, i) => this.string(v, [...path, i]) ?? '');
  }

  pointer(value: unknown, path: Path): string | undefined {
    return this.string(value, path, /^(\/[^/]*)+$|^\/$/, 'must be a JSON pointer like /results or /error/message');
  }

  secret(value: unknown, path: Path): CarrierSecret | undefined {
    if (typeof value === 'string') return this.fail(path, 'credentials are not written in the carrier file: use {secretRef: {env: NAME}} or {secretRef: {file: PATH}}');
    const wrapper = this.object(value, path, ['secretRef']);
    const ref = wrapper && this.object(wrapper.secretRef, [...path, 'secretRef'], ['env', 'file']);
    if (!ref) return undefined;
    if (ref.env !== undefined && ref.file === undefined) return { secretRef: { env: this.string(ref.env, [...path, 'secretRef', 'env']) ?? '' } };
    if (ref.file !== undefined && ref.env === undefined) return { secretRef: { file: this.string(ref.file, [...path, 'secretRef', 'file']) ?? '' } };
    return this.fail([...path, 'secretRef'], 'must name exactly one of env or file');
  }

  auth(value: unknown, path: Path): CarrierAuth | null {
    if (value === undefined || value === null) return null;
    const auth = this.object(value, path, ['type', 'username', 'password', 'token', 'name', 'value']);
    if (!auth) return null;
    switch (auth.type) {
      case 'basic':
        return { type: 'basic', username: this.string(auth.username, [...path, 'username']) ?? '', password: this.secret(auth.password, [...path, 'password']) ?? { secretRef: { env: '' } } };
      case 'bearer':
        return { type: 'bearer', token: this.secret(auth.token, [...path, 'token']) ?? { secretRef: { env: '' } } };
      case 'header':
        return {
          type: 'header',
          name: this.string(auth.name, [...path, 'name'], /^[A-Za-z0-9-]+$/, 'must be an HTTP header name') ?? '',
          value: this.secret(auth.value, [...path, 'value']) ?? { secretRef: { env: '' } },
        };
      default:
        this.fail([...path, 'type'], 'must be basic, bearer or header');
        return null;
    }
  }

  placeholders(text: string, path: Path, allowed: readonly string[]): void {
    for (const match of text.matchAll(PLACEHOLDER)) {
      if (!allowed.includes(match[1]!)) this.fail(path, `{${match[1]}} is not a placeholder here (allowed: ${allowed.map((a) => `{${a}}`).join(', ') || 'none'})`);
    }
  }

  template(value: unknown, path: Path, allowed: readonly string[], depth = 0): void {
    if (depth > 16) {
      this.fail(path, 'is nested too deep');
      return;
    }
    if (typeof value === 'string') this.placeholders(value, path, allowed);
    else if (Array.isArray(value)) value.forEach((v, i) => this.template(v, [...path, i], allowed, depth + 1));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) this.template(v, [...path, k], allowed, depth + 1);
  }
}

function check(raw: unknown): { config: HttpCarrierConfig; problems: { path: Path; message: string }[] } {
  const c = new Checker();
  const top = c.object(raw, [], ['name', 'adapter', 'baseUrl', 'auth', 'rateLimit', 'retry', 'timeoutMs', 'request', 'response']) ?? {};
  if (top.adapter !== undefined && top.adapter !== 'http') c.fail(['adapter'], 'must be http (the one adapter this engine ships)');
  const name = c.string(top.name, ['name'], /^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or -') ?? '';
  const baseUrl = c.string(top.baseUrl, ['baseUrl']) ?? '';
  if (baseUrl) {
    try {
      const url = new URL(baseUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') c.fail(['baseUrl'], 'must be an http(s) URL');
      if (url.username || url.password) c.fail(['baseUrl'], 'must not hold credentials: use auth with a secretRef');
    } catch {
      c.fail(['baseUrl'], 'must be an absolute URL');
    }
  }
  const rate = c.object(top.rateLimit, ['rateLimit'], ['perSecond', 'burst']) ?? {};
  const perSecond = c.number(rate.perSecond, ['rateLimit', 'perSecond'], 0.001, 100_000, false) ?? 1;
  const burst = rate.burst === undefined ? Math.max(1, Math.floor(perSecond)) : (c.number(rate.burst, ['rateLimit', 'burst'], 1, 100_000) ?? 1);
  const retryRaw = top.retry === undefined ? {} : (c.object(top.retry, ['retry'], ['maxAttempts', 'baseDelayMs', 'maxDelayMs']) ?? {});
  const retry = {
    maxAttempts: retryRaw.maxAttempts === undefined ? 5 : (c.number(retryRaw.maxAttempts, ['retry', 'maxAttempts'], 1, 100) ?? 5),
    baseDelayMs: retryRaw.baseDelayMs === undefined ? 1000 : (c.number(retryRaw.baseDelayMs, ['retry', 'baseDelayMs'], 1, 3_600_000) ?? 1000),
    maxDelayMs: retryRaw.maxDelayMs === undefined ? 60_000 : (c.number(retryRaw.maxDelayMs, ['retry', 'maxDelayMs'], 1, 86_400_000) ?? 60_000),
  };
  const timeoutMs = top.timeoutMs === undefined ? 30_000 : (c.number(top.timeoutMs, ['timeoutMs'], 100, 600_000) ?? 30_000);

  const req = c.object(top.request, ['request'], ['method', 'path', 'headers', 'body', 'batch']) ?? {};
  const method = req.method ?? 'POST';
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') c.fail(['request', 'method'], 'must be POST, PUT or PATCH');
  const path = c.string(req.path, ['request', 'path'], /^\//, 'must start with /') ?? '/';
  const headers: Record<string, string> = {};
  if (req.headers !== undefined) {
    const h = c.object(req.headers, ['request', 'headers'], Object.keys((req.headers as Obj | null) ?? {})) ?? {};
    for (const [key, value] of Object.entries(h)) {
      if (!/^[A-Za-z0-9-]+$/.test(key)) c.fail(['request', 'headers', key], 'must be an HTTP header name');
      else if (/^authorization$/i.test(key)) c.fail(['request', 'headers', key], 'credentials go in auth, from a secretRef');
      else headers[key.toLowerCase()] = c.string(value, ['request', 'headers', key]) ?? '';
    }
  }
  let batch: HttpCarrierConfig['request']['batch'] = null;
  const perSim = ['deviceId', 'iccid', 'imei'];
  if (req.batch !== undefined && req.batch !== null) {
    const b = c.object(req.batch, ['request', 'batch'], ['maxSize', 'item']) ?? {};
    batch = { maxSize: c.number(b.maxSize, ['request', 'batch', 'maxSize'], 1, 10_000) ?? 1, item: b.item ?? null };
    if (b.item === undefined) c.fail(['request', 'batch', 'item'], 'must say how one SIM is written, e.g. {iccid: "{iccid}"}');
    c.template(b.item, ['request', 'batch', 'item'], perSim);
    c.placeholders(path, ['request', 'path'], []);
    c.template(req.body, ['request', 'body'], ['activations']);
    if (!JSON.stringify(req.body ?? null).includes('"{activations}"')) c.fail(['request', 'body'], 'a batch body must hold "{activations}" where the items go');
  } else {
    c.placeholders(path, ['request', 'path'], perSim);
    c.template(req.body, ['request', 'body'], perSim);
  }

  const res = top.response === undefined ? {} : (c.object(top.response, ['response'], ['activated', 'rejected', 'retryable', 'errorPath', 'activatedWhen', 'results']) ?? {});
  const activated = c.statuses(res.activated, ['response', 'activated'], DEFAULT_ACTIVATED);
  const rejected = c.statuses(res.rejected, ['response', 'rejected'], DEFAULT_REJECTED);
  const retryable = c.statuses(res.retryable, ['response', 'retryable'], DEFAULT_RETRYABLE);
  for (const status of activated) if (rejected.includes(status) || retryable.includes(status)) c.fail(['response'], `status ${status} is in more than one list`);
  for (const status of rejected) if (retryable.includes(status)) c.fail(['response'], `status ${status} is both rejected and retryable`);
  const errorPath = res.errorPath === undefined ? null : (c.pointer(res.errorPath, ['response', 'errorPath']) ?? null);
  let activatedWhen: HttpCarrierConfig['response']['activatedWhen'] = null;
  if (res.activatedWhen !== undefined) {
    const w = c.object(res.activatedWhen, ['response', 'activatedWhen'], ['path', 'equals']) ?? {};
    activatedWhen = { path: c.pointer(w.path, ['response', 'activatedWhen', 'path']) ?? '/', equals: c.strings(w.equals, ['response', 'activatedWhen', 'equals']) };
  }
  let results: HttpCarrierConfig['response']['results'] = null;
  if (res.results !== undefined) {
    const r = c.object(res.results, ['response', 'results'], ['path', 'match', 'idPath', 'outcomePath', 'activated', 'rejected', 'errorPath']) ?? {};
    const match = r.match ?? 'deviceId';
    if (match !== 'deviceId' && match !== 'iccid') c.fail(['response', 'results', 'match'], 'must be deviceId or iccid');
    results = {
      path: c.pointer(r.path, ['response', 'results', 'path']) ?? '/',
      match: match === 'iccid' ? 'iccid' : 'deviceId',
      idPath: c.pointer(r.idPath, ['response', 'results', 'idPath']) ?? '/',
      outcomePath: c.pointer(r.outcomePath, ['response', 'results', 'outcomePath']) ?? '/',
      activated: c.strings(r.activated, ['response', 'results', 'activated']),
      rejected: r.rejected === undefined ? [] : c.strings(r.rejected, ['response', 'results', 'rejected']),
      errorPath: r.errorPath === undefined ? null : (c.pointer(r.errorPath, ['response', 'results', 'errorPath']) ?? null),
    };
  }
  if (batch && !results) c.fail(['response', 'results'], 'a batch request needs results: where each SIM’s outcome is in the answer');
  if (!batch && results) c.fail(['response', 'results'], 'results are read only for batch requests (request.batch)');

  return {
    config: {
      name,
      baseUrl,
      auth: c.auth(top.auth, ['auth']),
      rateLimit: { perSecond, burst },
      retry,
      timeoutMs,
      request: { method: method as 'POST' | 'PUT' | 'PATCH', path, headers, body: req.body ?? null, batch },
      response: { activated, rejected, retryable, errorPath, activatedWhen, results },
    },
    problems: c.problems,
  };
}

/** Parses and checks a carrier file; throws CarrierConfigError listing every problem. */
export function parseCarrierConfig(file: string, text: string): HttpCarrierConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    throw new CarrierConfigError(
      doc.errors.map((e) => {
        const at = position(e.pos[0]);
        return { file, line: at.line, column: at.col, path: '', message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  const { config, problems } = check(doc.toJS({ maxAliasCount: 10 }));
  if (problems.length === 0) return config;
  throw new CarrierConfigError(
    problems.map(({ path, message }) => {
      let node: unknown = null;
      for (let depth = path.length; depth >= 0 && !isNode(node); depth--) node = doc.getIn(path.slice(0, depth), true);
      const at = position(isNode(node) ? (node.range?.[0] ?? 0) : 0);
      return { file, line: at.line, column: at.col, path: path.map((p) => `/${String(p)}`).join(''), message };
    }),
  );
}
