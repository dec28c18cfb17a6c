// A parse worker: receives [text…], answers with [RawYamlFile…] in the same order.
import { parentPort } from 'node:worker_threads';
import { parseYamlValues } from './yaml-values.mjs';

parentPort.on('message', (texts) => {
  parentPort.postMessage(texts.map((text) => parseYamlValues(text)));
});
