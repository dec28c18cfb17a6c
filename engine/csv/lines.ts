// Bytes → lines, for logs written by factories, warehouses and OpenCelliD: a UTF-8 BOM is
// dropped, CRLF and LF both end a line, and a line that is not valid UTF-8 or is longer than
// the limit is handed on as a bad line with its number instead of failing the file. Chunks are
// decoded whole when they are valid UTF-8 (the common case) and line by line only when not.
import { isUtf8 } from 'node:buffer';

/** A problem with the whole file (not one of its lines): it cannot be read at all. */
export class TextFileError extends Error {
  readonly code = 'invalid-file';
  constructor(
    message: string,
    /** 1-based line the problem was found on, when there is one. */
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'TextFileError';
  }
}

export type TextLine = { line: number; text: string; bad?: undefined } | { line: number; text: null; bad: string };

const NEWLINE = 0x0a;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** Offset of the first byte that makes `bytes` invalid UTF-8 (bytes is known to be invalid). */
function firstInvalidByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    const extra = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    // isUtf8 on the one sequence catches truncated, overlong and surrogate encodings alike.
    if (extra < 0 || (extra > 0 && !isUtf8(bytes.subarray(i, i + extra + 1)))) return i;
    i += extra + 1;
  }
  return Math.max(0, bytes.length - 1);
}

export interface LineSplitterOptions {
  /** Longest line kept, bytes (longer ones become bad lines). Default 1 MiB. */
  maxLineBytes?: number;
}

/** Push-based: feed chunks, get the complete lines they finish. */
export class LineSplitter {
  private carry: Buffer = Buffer.alloc(0);
  private lineNo = 0;
  private started = false;
  /** Bytes of an over-long line being skipped (its number is reported once it ends). */
  private discarding = false;
  private readonly maxLineBytes: number;

  constructor(options: LineSplitterOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  }

  /** Lines read so far. */
  get lines(): number {
    return this.lineNo;
  }

  push(chunk: Uint8Array): TextLine[] {
    let bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.started) {
      if (bytes.length < 3 && bytes.indexOf(NEWLINE) < 0) {
        this.carry = Buffer.from(bytes);
        return [];
      }
      this.started = true;
      if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
        throw new TextFileError('the file is UTF-16; save it as UTF-8 (CSV UTF-8 in spreadsheet programs)', 1);
      }
      if (UTF8_BOM.every((b, i) => bytes[i] === b)) bytes = bytes.subarray(3);
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last < 0) {
      this.carry = Buffer.from(bytes);
      this.checkCarry();
      return [];
    }
    const complete = bytes.subarray(0, last);
    this.carry = Buffer.from(bytes.subarray(last + 1));
    const out = this.split(complete);
    this.checkCarry();
    return out;
  }

  /** The last line, when the file does not end with a newline. */
  end(): TextLine[] {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    if (rest.length === 0 && !this.discarding) return [];
    return this.split(rest);
  }

  private checkCarry(): void {
    if (this.carry.length > this.maxLineBytes) {
      // Keep nothing of it: the line is reported (by number) when its end arrives.
      this.discarding = true;
      this.carry = Buffer.alloc(0);
    }
  }

  private split(complete: Buffer): TextLine[] {
    const out: TextLine[] = [];
    if (isUtf8(complete) && !this.discarding) {
      const texts = complete.toString('utf8').split('\n');
      for (const raw of texts) this.emit(out, raw, null);
      return out;
    }
    let start = 0;
    for (;;) {
      const end = complete.indexOf(NEWLINE, start);
      const slice = complete.subarray(start, end < 0 ? complete.length : end);
      if (this.discarding) {
        this.discarding = false;
        this.lineNo++;
        out.push({ line: this.lineNo, text: null, bad: `line is longer than ${this.maxLineBytes} bytes` });
      } else if (isUtf8(slice)) {
        this.emit(out, slice.toString('utf8'), null);
      } else {
        const at = firstInvalidByte(slice);
        this.emit(out, null, `line is not valid UTF-8 (byte 0x${(slice[at] ?? 0).toString(16).padStart(2, '0')} at byte ${at + 1}); save the file as UTF-8`);
      }
      if (end < 0) break;
      start = end + 1;
    }
    return out;
  }

  private emit(out: TextLine[], raw: string | null, bad: string | null): void {
    this.lineNo++;
    if (raw === null) {
      out.push({ line: this.lineNo, text: null, bad: bad ?? 'unreadable line' });
      return;
    }
    if (raw.length > this.maxLineBytes) {
      out.push({ line: this.lineNo, text: null, bad: `line is longer than ${this.maxLineBytes} bytes` });
      return;
    }
    out.push({ line: this.lineNo, text: raw.endsWith('\r') ? raw.slice(0, -1) : raw });
  }
}
