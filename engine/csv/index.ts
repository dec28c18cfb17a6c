// Delimited text and JSON Lines, streamed: the files factories, warehouses and OpenCelliD write.
// Pure (bytes in, records out); callers bring the bytes (an upload, a file, stdin).
import { LineSplitter, type LineSplitterOptions } from './lines.ts';
import { CsvRecordReader, type CsvItem, type CsvReaderOptions } from './records.ts';
import { readJsonLine, type JsonItem } from './jsonl.ts';
import { decodedContent, type DecodeOptions } from './stream.ts';

export { LineSplitter, TextFileError, type TextLine, type LineSplitterOptions } from './lines.ts';
export { CsvRecordReader, DELIMITERS, detectDelimiter, type BadRecord, type CsvItem, type CsvRecord, type CsvReaderOptions, type Delimiter } from './records.ts';
export { readJsonLine, unstorableJson, unstorableText, type JsonItem, type JsonRecord } from './jsonl.ts';
export { decodedContent, type DecodeOptions } from './stream.ts';

export type StreamOptions = CsvReaderOptions & DecodeOptions & LineSplitterOptions;

/** A CSV byte stream (gzip or not) as batches of records and bad records, in file order. */
export class CsvStream {
  readonly lines: LineSplitter;
  readonly records: CsvRecordReader;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly options: StreamOptions = {},
  ) {
    this.lines = new LineSplitter(options);
    this.records = new CsvRecordReader(options);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CsvItem[]> {
    for await (const chunk of decodedContent(this.source, this.options)) {
      const items = this.records.push(this.lines.push(chunk));
      if (items.length > 0) yield items;
    }
    const last = [...this.records.push(this.lines.end()), ...this.records.end()];
    if (last.length > 0) yield last;
  }
}

/** A JSON Lines byte stream (gzip or not) as batches of values and bad lines. */
export async function* jsonLinesStream(source: AsyncIterable<Uint8Array>, options: DecodeOptions & LineSplitterOptions = {}): AsyncGenerator<JsonItem[]> {
  const lines = new LineSplitter(options);
  const read = (batch: ReturnType<LineSplitter['push']>): JsonItem[] => batch.map(readJsonLine).filter((item): item is JsonItem => item !== null);
  for await (const chunk of decodedContent(source, options)) {
    const items = read(lines.push(chunk));
    if (items.length > 0) yield items;
  }
  const last = read(lines.end());
  if (last.length > 0) yield last;
}

/** The records of CSV text in memory (tests, small inline logs). */
export function csvItemsOfText(text: string, options: CsvReaderOptions & LineSplitterOptions = {}): { items: CsvItem[]; reader: CsvRecordReader } {
  const lines = new LineSplitter(options);
  const reader = new CsvRecordReader(options);
  const items = [...reader.push(lines.push(Buffer.from(text, 'utf8'))), ...reader.push(lines.end()), ...reader.end()];
  return { items, reader };
}

/** The values of JSON Lines text in memory. */
export function jsonItemsOfText(text: string, options: LineSplitterOptions = {}): JsonItem[] {
  const lines = new LineSplitter(options);
  return [...lines.push(Buffer.from(text, 'utf8')), ...lines.end()].map(readJsonLine).filter((item): item is JsonItem => item !== null);
}
