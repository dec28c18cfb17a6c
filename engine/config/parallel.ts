// Parsing YAML is most of the cost of compiling a large repo. Files the fast path reads (js-yaml: about 8 MB/s)
// are parsed in the calling thread: handing them to a worker costs more than parsing them. Files only the
// reference parser may read (about 1.5 MB/s) are split between the calling thread and short-lived worker
// threads when there are enough of them. Same results as parsing in-thread, same order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fastPathApplies, parseYamlValues, parseYamlValuesFast, parseYamlValuesReference, type RawYamlFile } from './yaml-values.mjs';

/** Turns the texts of YAML files into values and syntax errors, in order. */
export type YamlFilesParser = (texts: readonly string[]) => Promise<RawYamlFile[]>;

export interface ParallelParseOptions {
  /** Threads in all, the calling one included (default: available parallelism, at most 4). */
  threads?: number;
  /** Below this many bytes for the reference parser in all, parse in-thread: starting a worker costs more (default 256 KiB). */
  minBytes?: number;
}

/** A parser that spreads large trees over worker threads. */
export function parallelYamlParser(options: ParallelParseOptions = {}): YamlFilesParser {
  const threads = Math.max(1, options.threads ?? Math.min(availableParallelism(), 4));
  const minBytes = options.minBytes ?? 256 * 1024;
  return async (texts) => {
    if (threads === 1) return texts.map((text) => parseYamlValues(text));
    // The gate runs once per file: its verdict picks the parser.
    const fast: number[] = [];
    const slow: number[] = [];
    let slowBytes = 0;
    texts.forEach((text, i) => {
      if (fastPathApplies(text)) fast.push(i);
      else {
        slow.push(i);
        slowBytes += text.length;
      }
    });
    const results = new Array<RawYamlFile>(texts.length);
    const parseFast = (): void => fast.forEach((i) => (results[i] = parseYamlValuesFast(texts[i] ?? '')));
    if (slowBytes < minBytes) {
      parseFast();
      for (const i of slow) results[i] = parseYamlValuesReference(texts[i] ?? '');
      return results;
    }
    // Greedy split by size, biggest first, into `threads` shares of similar weight.
    const shares = Array.from({ length: threads }, () => ({ bytes: 0, indexes: [] as number[] }));
    const order = slow.sort((a, b) => (texts[b]?.length ?? 0) - (texts[a]?.length ?? 0));
    for (const i of order) {
      const lightest = shares.reduce((min, share) => (share.bytes < min.bytes ? share : min));
      lightest.bytes += texts[i]?.length ?? 0;
      lightest.indexes.push(i);
    }
    const pending = shares.slice(1).map(
      (share) =>
        new Promise<void>((resolve) => {
          // A roomier young generation: parsing allocates many short-lived nodes, and scavenges dominated.
          const worker = new Worker(new URL('./yaml-worker.mjs', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 96 } });
          worker.once('message', (parsed: RawYamlFile[]) => {
            share.indexes.forEach((fileIndex, k) => (results[fileIndex] = parsed[k] as RawYamlFile));
            void worker.terminate();
            resolve();
          });
          // A worker that dies (out of memory on a hostile file) must not fail the compile: parse here instead.
          worker.once('error', () => {
            void worker.terminate();
            for (const i of share.indexes) results[i] = parseYamlValuesReference(texts[i] ?? '');
            resolve();
          });
          worker.postMessage(share.indexes.map((i) => texts[i]));
        }),
    );
    // The calling thread takes the fast-path files and the first share while the workers start up and parse theirs.
    parseFast();
    for (const i of shares[0]?.indexes ?? []) results[i] = parseYamlValuesReference(texts[i] ?? '');
    await Promise.all(pending);
    return results;
  };
}

export interface ParseCacheOptions {
  /** Text kept in the cache, in bytes (default 64 MiB); least recently used files go first. */
  maxBytes?: number;
}

/**
 * Remembers parsed files by their exact text: the engine compiles revision after revision, and a merge
 * changes a few files. The values are shared between snapshots, which is safe because snapshots are frozen
 * and nothing in the core mutates a parsed value.
 */
export function cachingYamlParser(inner: YamlFilesParser = parallelYamlParser(), options: ParseCacheOptions = {}): YamlFilesParser {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const cache = new Map<string, RawYamlFile>(); // insertion order = recency
  let bytes = 0;
  return async (texts) => {
    const missing = [...new Set(texts.filter((text) => !cache.has(text)))];
    const parsed = missing.length > 0 ? await inner(missing) : [];
    missing.forEach((text, i) => {
      cache.set(text, parsed[i] as RawYamlFile);
      bytes += text.length;
    });
    const results = texts.map((text) => {
      const raw = cache.get(text) as RawYamlFile;
      cache.delete(text); // move to the recent end
      cache.set(text, raw);
      return raw;
    });
    for (const text of cache.keys()) {
      if (bytes <= maxBytes) break;
      cache.delete(text);
      bytes -= text.length;
    }
    return results;
  };
}
