// The operator console's files (built by scripts/build-console.mjs into dist/console/), served by
// the engine itself at `/`: no second server, no CDN. Only GET/HEAD of `/`, `/index.html` and
// `/assets/<file>` are answered here; everything else goes on to the API routes.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import { etagMatches } from './conditional-get.ts';
import { HttpError } from './errors.ts';

/** Where `npm run build:console` writes the console. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/**
 * The console's only script and style come from this origin; no inline script or style, no
 * framing, no form posts elsewhere, no plugins. `connect-src 'self'`: the page talks to its own
 * engine only, so an injected string could not send a token anywhere else either.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), payment=()',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** Asset names are content-hashed by the build: a plain file name, nothing that could climb out. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class ConsoleNotBuiltError extends HttpError {
  constructor() {
    super(404, 'console-not-built', 'the console is not built: run npm run build:console');
  }
}

interface CachedFile {
  mtimeMs: number;
  body: Buffer;
  etag: string;
  /** Precompressed variants written by the build, when present. */
  br: Buffer | null;
  gzip: Buffer | null;
}

export interface ConsoleOptions {
  /** The built console (default dist/console/ of this package). */
  dir?: string;
}

export function serveConsole(options: ConsoleOptions = {}): Koa.Middleware {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const cache = new Map<string, CachedFile>();

  async function load(path: string): Promise<CachedFile | null> {
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return null;
    const cached = cache.get(path);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached;
    const body = await readFile(path);
    const [br, gzip] = await Promise.all([readFile(`${path}.br`).catch(() => null), readFile(`${path}.gz`).catch(() => null)]);
    const file: CachedFile = { mtimeMs: info.mtimeMs, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, br, gzip };
    cache.set(path, file);
    return file;
  }

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    let path: string;
    let immutable: boolean;
    if (ctx.path === '/' || ctx.path === '/index.html') {
      path = join(dir, 'index.html');
      immutable = false;
    } else if (ctx.path.startsWith('/assets/')) {
      const name = ctx.path.slice('/assets/'.length);
      if (!ASSET_NAME.test(name) || !CONTENT_TYPES[extname(name)]) throw new HttpError(404, 'not-found', 'no such file');
      path = join(dir, 'assets', name);
      immutable = true;
    } else {
      return next();
    }
    const file = await load(path);
    if (!file) {
      if (!immutable) throw new ConsoleNotBuiltError();
      throw new HttpError(404, 'not-found', 'no such file');
    }
    ctx.set(SECURITY_HEADERS);
    ctx.set('Vary', 'Accept-Encoding');
    // Hashed assets never change under their name; the page itself is revalidated on every load so a
    // new build is picked up at once.
    ctx.set('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.set('ETag', file.etag);
    ctx.type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
    if (etagMatches(ctx.get('if-none-match'), file.etag)) {
      ctx.status = 304;
      return;
    }
    const encoding = ctx.acceptsEncodings('br', 'gzip', 'identity');
    if (encoding === 'br' && file.br) {
      ctx.set('Content-Encoding', 'br');
      ctx.body = file.br;
    } else if (encoding === 'gzip' && file.gzip) {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = file.gzip;
    } else {
      ctx.body = file.body;
    }
  };
}
