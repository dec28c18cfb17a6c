// Source tree → resources with positions, or issues: files, YAML, envelope, plaintext secrets, schema.
import {
  API_VERSION,
  RESOURCE_KINDS,
  type Issue,
  type LoadedResource,
  type ResourceDocument,
  type ResourceKind,
  type SourceTree,
} from '../model/index.ts';
import { resourceFiles, DEFAULT_MAX_FILE_BYTES, type ResourceFile } from './files.ts';
import { parseYamlValues, pointer, withPositions, type JsonPath, type ParsedDocument, type RawYamlFile } from './parse.ts';
import type { YamlFilesParser } from './parallel.ts';
import { schemaIssues } from './schema.ts';

export interface LoadOptions {
  /** Files larger than this are rejected (default 1 MiB). */
  maxFileBytes?: number;
}

export interface LoadResult {
  resources: LoadedResource[];
  issues: Issue[];
  /** Names of every document with a readable kind and name, valid or not: references to an invalid document are not also "dangling". */
  declaredNames: ReadonlyMap<ResourceKind, ReadonlySet<string>>;
}

const KINDS = new Set<string>(RESOURCE_KINDS);

export function issueAt(
  document: Pick<ParsedDocument, 'locate'>,
  path: JsonPath,
  code: string,
  message: string,
  severity: Issue['severity'] = 'error',
): Issue {
  const at = document.locate(path);
  return { code, severity, file: at.file, line: at.line, column: at.column, path: pointer(path), message };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Secrets at fixed places of the schema (Wi-Fi passwords, webhook secrets) must not be plaintext. */
function plaintextSecretIssues(kind: ResourceKind, value: Record<string, unknown>, document: ParsedDocument): Issue[] {
  const issues: Issue[] = [];
  const spec = value.spec;
  if (!isRecord(spec)) return issues;
  const check = (secret: unknown, path: JsonPath, what: string): void => {
    if (typeof secret === 'string' || typeof secret === 'number') {
      issues.push(
        issueAt(
          document,
          path,
          'plaintext-secret',
          `${what} is plaintext; encrypt it (fleetform secret encrypt --recipient age1…) or use {secretRef: {env: NAME}}`,
        ),
      );
    }
  };
  if (kind === 'Site' && Array.isArray(spec.wifi)) {
    spec.wifi.forEach((network: unknown, i) => {
      if (isRecord(network)) check(network.password, ['spec', 'wifi', i, 'password'], `Wi-Fi password of '${String(network.ssid)}'`);
    });
  }
  if (kind === 'AlertRule' && Array.isArray(spec.actions)) {
    spec.actions.forEach((action: unknown, i) => {
      if (isRecord(action)) check(action.secret, ['spec', 'actions', i, 'secret'], 'webhook secret');
    });
  }
  return issues;
}

/** One document: envelope, plaintext secrets, schema. Returns the resource when it is valid. */
function loadDocument(document: ParsedDocument, declared: Map<ResourceKind, Set<string>>): { resource?: LoadedResource; issues: Issue[] } {
  const value = document.value;
  if (value === null) return { issues: [] }; // an empty document (e.g. a trailing `---`)
  if (!isRecord(value)) {
    return { issues: [issueAt(document, [], 'not-a-resource', 'a document must be a mapping with apiVersion, kind, metadata and spec')] };
  }
  const issues: Issue[] = [];
  if (value.apiVersion !== API_VERSION) {
    issues.push(
      issueAt(
        document,
        value.apiVersion === undefined ? [] : ['apiVersion'],
        value.apiVersion === undefined ? 'not-a-resource' : 'unknown-api-version',
        value.apiVersion === undefined
          ? `document has no apiVersion (expected ${API_VERSION})`
          : `unknown apiVersion ${JSON.stringify(value.apiVersion)}; expected ${API_VERSION}`,
      ),
    );
  }
  if (typeof value.kind !== 'string' || !KINDS.has(value.kind)) {
    issues.push(
      issueAt(
        document,
        value.kind === undefined ? [] : ['kind'],
        value.kind === undefined ? 'not-a-resource' : 'unknown-kind',
        value.kind === undefined
          ? 'document has no kind'
          : `unknown kind ${JSON.stringify(value.kind)}; expected one of ${RESOURCE_KINDS.join(', ')}`,
      ),
    );
    return { issues };
  }
  const kind = value.kind as ResourceKind;
  const name = isRecord(value.metadata) ? value.metadata.name : undefined;
  if (typeof name === 'string') {
    let names = declared.get(kind);
    if (!names) declared.set(kind, (names = new Set()));
    names.add(name);
  }
  if (issues.length > 0) return { issues };
  const plaintext = plaintextSecretIssues(kind, value, document);
  const schema = schemaIssues(kind, document, plaintext.map((issue) => issue.path));
  issues.push(...plaintext, ...schema);
  // A plaintext secret leaves the document well-formed otherwise: keep it, so its references are checked too.
  if (schema.length > 0) return { issues };
  return {
    issues,
    resource: {
      resource: value as unknown as ResourceDocument,
      file: document.file,
      documentIndex: document.index,
      locate: document.locate,
    },
  };
}

/** The first value JSON cannot carry (`.inf`, `.nan`): a device would receive null, a hash would lie. */
function nonJsonValue(value: unknown, path: (string | number)[] = [], depth = 0): (string | number)[] | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (value === null || typeof value !== 'object' || depth > 256) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonJsonValue(value[i], [...path, i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const found = nonJsonValue((value as Record<string, unknown>)[key], [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

function loadFile(file: ResourceFile, raw: RawYamlFile, declared: Map<ResourceKind, Set<string>>, issues: Issue[], resources: LoadedResource[]): void {
  const parsed = withPositions(file.path, file.text, raw);
  issues.push(...parsed.issues);
  for (const document of parsed.documents) {
    const bad = nonJsonValue(document.value);
    if (bad) {
      issues.push(issueAt(document, bad, 'non-json-value', `${pointer(bad) || 'the document'} is not a JSON value (.inf or .nan): write a number`));
      continue;
    }
    const loaded = loadDocument(document, declared);
    issues.push(...loaded.issues);
    if (loaded.resource) resources.push(loaded.resource);
  }
}

function loadParsed(files: readonly ResourceFile[], raws: readonly RawYamlFile[], fileIssues: Issue[]): LoadResult {
  const issues = [...fileIssues];
  const resources: LoadedResource[] = [];
  const declared = new Map<ResourceKind, Set<string>>();
  files.forEach((file, i) => {
    const before = { issues: issues.length, resources: resources.length };
    try {
      loadFile(file, raws[i] ?? { documents: [], errors: [] }, declared, issues, resources);
    } catch (error) {
      // Whatever a file holds, the revision gets an issue, never an exception: the engine must be able to
      // record every revision it looks at.
      issues.length = before.issues;
      resources.length = before.resources;
      issues.push({
        code: 'load-failed',
        severity: 'error',
        file: file.path,
        line: 1,
        column: 1,
        path: '',
        message: `the file could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  });
  return { resources, issues, declaredNames: declared };
}

/** Every resource of the tree's resource folders that is valid on its own, and every issue found on the way. */
export function loadResourcesWithNames(tree: SourceTree, options: LoadOptions = {}): LoadResult {
  const { files, issues } = resourceFiles(tree, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  return loadParsed(files, files.map((file) => parseYamlValues(file.text)), issues);
}

/** The same, with the YAML parsed by the given parser (e.g. spread over worker threads). */
export async function loadResourcesParsedBy(tree: SourceTree, options: LoadOptions, parse: YamlFilesParser): Promise<LoadResult> {
  const { files, issues } = resourceFiles(tree, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  return loadParsed(files, await parse(files.map((file) => file.text)), issues);
}

export function loadResources(tree: SourceTree, options: LoadOptions = {}): { resources: LoadedResource[]; issues: Issue[] } {
  const { resources, issues } = loadResourcesWithNames(tree, options);
  return { resources, issues };
}
