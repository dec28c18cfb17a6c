/** What parsing a file yields without positions: plain values per document, and syntax errors by offset. */
export interface RawYamlFile {
  /** One entry per document without errors: its index in the file and its value. */
  documents: { index: number; value: unknown }[];
  /** `code` when the error is not a syntax error (an unknown tag); `yaml-syntax` otherwise. */
  errors: { offset: number; message: string; code?: string }[];
}

/** js-yaml under a YAML 1.2 core schema when the text allows it, else the reference. */
export declare function parseYamlValues(text: string): RawYamlFile;
/** For a text `fastPathApplies` accepted (the gate is not run again). */
export declare function parseYamlValuesFast(text: string): RawYamlFile;
/** The `yaml` package: the meaning every path must agree with. */
export declare function parseYamlValuesReference(text: string): RawYamlFile;
/** Whether the fast path may read the text; false: only the reference parser means it the same. */
export declare function fastPathApplies(text: string): boolean;
