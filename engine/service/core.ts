// The pure core as the engine uses it: one place that names the functions it calls,
// so the engine can be given stand-ins (none today) and the imports stay in one file.
import type { Issue, Snapshot, SourceTree } from '../model/index.ts';
import {
  VALIDATE_CHECKS,
  cachingYamlParser,
  compileSnapshot,
  effectiveConfig,
  type SecretVault,
  type SecretReferenceResolver,
} from '../config/index.ts';
import { answerCheckIn, assessCheckIn } from '../reconcile/index.ts';

export type Secrets = SecretVault;

export interface CompiledRevision {
  snapshot: Snapshot | null;
  issues: Issue[];
  secrets: Secrets;
}

export interface CompileOptions {
  /** age identity (AGE-SECRET-KEY-1…) that decrypts secrets in git. */
  identity?: string;
  resolveReference?: SecretReferenceResolver;
}

/** Successive revisions share most files: unchanged files are not parsed again. */
const parseFiles = cachingYamlParser();

/** The same checks as `fleetform validate`: the engine never applies a revision that validate rejects. */
export async function compileRevision(tree: SourceTree, options: CompileOptions): Promise<CompiledRevision> {
  const result = await compileSnapshot(tree, { ...options, checks: VALIDATE_CHECKS, parseFiles });
  return { snapshot: result.snapshot, issues: [...result.issues], secrets: result.secrets };
}

export { effectiveConfig, assessCheckIn, answerCheckIn };
