/** What parsing a file yields without positions: plain values per document, and syntax errors by offset. */
export interface RawYamlFile {
  /** One entry per document without errors: its index in the file and its value. */
  documents: { index: number; value: unknown }[];
  errors: { offset: number; message: string }[];
}

export declare function parseYamlValues(text: string): RawYamlFile;
