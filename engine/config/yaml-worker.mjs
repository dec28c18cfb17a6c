// A parse worker: receives [text…] the fast path may not read, answers with [RawYamlFile…] in the same order.
import { parentPort } from 'node:worker_threads';
import { parseYamlValuesReference } from './yaml-values.mjs';

parentPort.on('message', (texts) => {
  parentPort.postMessage(texts.map((text) => parseYamlValuesReference(text)));
});
