// Which files of a tree hold resources, and the file-level checks: symlinks, size, binary content, non-YAML files.
import { RESOURCE_FOLDERS, type Issue, type SourceFile, type SourceTree } from '../model/index.ts';

/** Files above this size are rejected rather than parsed (a config file is kilobytes; this guards the engine). */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

export interface ResourceFile {
  path: string;
  text: string;
}

function inResourceFolder(path: string): boolean {
  return RESOURCE_FOLDERS.some((folder) => path === folder || path.startsWith(folder + '/'));
}

function isYaml(path: string): boolean {
  return path.endsWith('.yaml') || path.endsWith('.yml');
}

/** Documentation and dotfiles (.gitkeep) may sit next to resources. */
function isAllowedNonYaml(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.startsWith('.') || base.toLowerCase() === 'readme.md';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fileIssue(file: string, code: string, message: string): Issue {
  return { code, severity: 'error', file, line: 1, column: 1, path: '', message };
}

/** The YAML files of the resource folders, in path order, decoded; everything else that is wrong is an issue. */
export function resourceFiles(
  tree: SourceTree,
  maxFileBytes: number = DEFAULT_MAX_FILE_BYTES,
): { files: ResourceFile[]; issues: Issue[] } {
  const files: ResourceFile[] = [];
  const issues: Issue[] = [];
  const candidates = tree.files.filter((file) => inResourceFolder(file.path));
  candidates.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of candidates) {
    const checked = checkFile(file, maxFileBytes);
    if ('issue' in checked) {
      if (checked.issue) issues.push(checked.issue);
    } else {
      files.push(checked);
    }
  }
  return { files, issues };
}

function checkFile(file: SourceFile, maxFileBytes: number): ResourceFile | { issue: Issue | null } {
  if (file.type === 'symlink') {
    return { issue: fileIssue(file.path, 'symlink', 'symbolic links are not allowed in resource folders; commit the file itself') };
  }
  if (!isYaml(file.path)) {
    if (isAllowedNonYaml(file.path)) return { issue: null };
    return {
      issue: fileIssue(file.path, 'non-yaml-file', 'only .yaml/.yml files (and README.md) belong in resource folders'),
    };
  }
  if (file.content.byteLength > maxFileBytes) {
    return {
      issue: fileIssue(
        file.path,
        'file-too-large',
        `file is ${file.content.byteLength} bytes; the limit is ${maxFileBytes} bytes — split it into several files`,
      ),
    };
  }
  if (file.content.includes(0)) {
    return { issue: fileIssue(file.path, 'binary-file', 'file contains NUL bytes: binary content is not YAML') };
  }
  let text: string;
  try {
    text = utf8.decode(file.content);
  } catch {
    return { issue: fileIssue(file.path, 'binary-file', 'file is not valid UTF-8 text') };
  }
  return { path: file.path, text };
}
