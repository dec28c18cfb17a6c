// Reads a JSON request body with a hard size limit: the limit is enforced while streaming,
// so an oversized body is refused without buffering it.
import type { IncomingMessage } from 'node:http';
import { MalformedBodyError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw new UnsupportedMediaTypeError();
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new PayloadTooLargeError(limitBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      req.resume();
      throw new PayloadTooLargeError(limitBytes);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new MalformedBodyError('request body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MalformedBodyError(`request body is not valid JSON: ${(error as Error).message}`);
  }
}
