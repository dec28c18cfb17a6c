// Byte streams as logs arrive (an HTTP upload, a file, stdin): gzip is recognised by its magic
// bytes and inflated on the fly, and the inflated size is bounded (a small .gz can hold
// gigabytes). Nothing is buffered beyond a chunk.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TextFileError } from './lines.ts';

export interface DecodeOptions {
  /** Largest content after decompression, bytes (default: no limit). */
  maxBytes?: number;
}

async function* prefixed(first: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield first;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** The content of a (possibly gzip-compressed) byte stream. Throws TextFileError for a corrupt gzip stream or too much content. */
export async function* decodedContent(source: AsyncIterable<Uint8Array>, options: DecodeOptions = {}): AsyncGenerator<Uint8Array> {
  const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  // Two bytes decide: 1f 8b is gzip.
  while (head.length < 2) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  let total = 0;
  const count = (chunk: Uint8Array): Uint8Array => {
    total += chunk.length;
    if (total > limit) throw new TextFileError(`the content is larger than ${limit} bytes`);
    return chunk;
  };
  if (!(head[0] === 0x1f && head[1] === 0x8b)) {
    for await (const chunk of prefixed(head, iterator)) yield count(chunk);
    return;
  }
  const input = Readable.from(prefixed(head, iterator), { objectMode: false });
  const gunzip = createGunzip();
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield count(chunk);
  } catch (error) {
    if (error instanceof TextFileError) throw error;
    const code = (error as { code?: string }).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_INVALID_ARG_TYPE') throw new TextFileError(`not a valid gzip file: ${(error as Error).message}`);
    throw error;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}
