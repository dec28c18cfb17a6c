// The simulator's HTTP client: node:http with one keep-alive agent, so the number of sockets is bounded
// by the agent (never one per device).
import http from 'node:http';
import https from 'node:https';

export interface JsonResponse<T = unknown> {
  status: number;
  body: T | null;
  /** Retry-After in seconds, when the engine sent one. */
  retryAfterSeconds: number | null;
}

export class EngineClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(
    url: string,
    /** Sockets at most: the bound on concurrent requests. */
    readonly maxSockets: number,
  ) {
    this.base = new URL(url);
    const Agent = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request<T>(method: string, path: string, token: string | null, body?: unknown): Promise<JsonResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.base);
    const send = url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: T | null = null;
            try {
              parsed = text ? (JSON.parse(text) as T) : null;
            } catch {
              parsed = null;
            }
            const retry = Number(res.headers['retry-after']);
            resolve({ status: res.statusCode ?? 0, body: parsed, retryAfterSeconds: Number.isFinite(retry) && res.headers['retry-after'] !== undefined ? retry : null });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET of a text resource (metrics). */
  async text(path: string): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.base);
    const send = url.protocol === 'https:' ? https.get : http.get;
    return new Promise((resolve, reject) => {
      send(url, { agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      }).on('error', reject);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
