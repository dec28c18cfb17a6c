#!/usr/bin/env node
// Builds the operator console (web/) into dist/console/: one bundled, minified script and one
// stylesheet under content-hashed names, the page that loads them, and .br/.gz next to each file so
// the engine serves them compressed without compressing per request. Prints the sizes and writes
// them to dist/console/build.json (the first-page JavaScript budget is 100 KB compressed).
//   node scripts/build-console.mjs [--out DIR]
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');

/** Budget for the JavaScript of the first page, compressed (brotli; gzip is reported too). */
export const FIRST_PAGE_JS_BUDGET = 100 * 1024;

function hashed(name, content) {
  const hash = createHash('sha256').update(content).digest('base64url').replace(/[-_]/g, '').slice(0, 10);
  const dot = name.lastIndexOf('.');
  return `${name.slice(0, dot)}-${hash}${name.slice(dot)}`;
}

function compressed(content) {
  return {
    gzip: gzipSync(content, { level: 9 }),
    br: brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: content.length } }),
  };
}

/** Builds into `out` (default dist/console). Returns the sizes it wrote. */
export async function buildConsole({ out = join(root, 'dist', 'console'), log = true } = {}) {
  const result = await build({
    entryPoints: [join(web, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    write: false,
    outdir: 'out',
    legalComments: 'none',
    // Nothing of the engine's environment reaches the page.
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!js || !css) throw new Error('esbuild produced no script or no stylesheet');
  const favicon = await readFile(join(web, 'favicon.svg'));

  const assets = [
    { name: hashed('app.js', js.contents), content: Buffer.from(js.contents) },
    { name: hashed('app.css', css.contents), content: Buffer.from(css.contents) },
    { name: hashed('favicon.svg', favicon), content: favicon },
  ];
  const [appJs, appCss, icon] = assets;
  const template = await readFile(join(web, 'index.html'), 'utf8');
  const html = Buffer.from(template.replace('%APP_JS%', appJs.name).replace('%APP_CSS%', appCss.name).replace('%FAVICON%', icon.name));

  // Written beside the target, then swapped in, so an engine serving the old build never sees half a new one.
  const staging = `${out}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'assets'), { recursive: true });
  const files = [];
  for (const [path, content] of [['index.html', html], ...assets.map((a) => [join('assets', a.name), a.content])]) {
    const { gzip, br } = compressed(content);
    await writeFile(join(staging, path), content);
    await writeFile(join(staging, `${path}.gz`), gzip);
    await writeFile(join(staging, `${path}.br`), br);
    files.push({ path, bytes: content.length, gzip: gzip.length, br: br.length });
  }
  const script = files.find((f) => f.path.endsWith('.js'));
  const summary = {
    builtAt: new Date().toISOString(),
    files,
    firstPageJs: { bytes: script.bytes, gzip: script.gzip, br: script.br, budget: FIRST_PAGE_JS_BUDGET },
  };
  await writeFile(join(staging, 'build.json'), JSON.stringify(summary, null, 2) + '\n');
  await rm(out, { recursive: true, force: true });
  await mkdir(dirname(out), { recursive: true });
  await rename(staging, out);

  if (log) {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    for (const f of files) process.stdout.write(`console: ${f.path.padEnd(34)} ${kb(f.bytes).padStart(9)}  gzip ${kb(f.gzip).padStart(8)}  br ${kb(f.br).padStart(8)}\n`);
    process.stdout.write(`console: built into ${out}\n`);
  }
  if (script.gzip > FIRST_PAGE_JS_BUDGET) throw new Error(`the console's JavaScript is ${script.gzip} bytes gzipped, over the ${FIRST_PAGE_JS_BUDGET}-byte budget`);
  return summary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  buildConsole(at > 0 ? { out: resolve(process.argv[at + 1]) } : {}).catch((error) => {
    process.stderr.write(`build-console: ${error.message}\n`);
    process.exit(1);
  });
}
