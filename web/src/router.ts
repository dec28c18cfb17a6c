// Hash routes (`#/devices?status=offline&page=2`): the engine serves one page at `/` and never has to
// tell console paths from API paths; back, forward and bookmarks work; nothing of the route reaches
// the server (or a Referer).
import { signal } from '@preact/signals';

export interface Route {
  /** Decoded path segments: `#/devices/trk-1` → ['devices', 'trk-1']. */
  parts: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?', 2);
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(search) };
}

export const route = signal<Route>(parse(location.hash));

addEventListener('hashchange', () => {
  route.value = parse(location.hash);
});

/** The href of a console route: `href('devices', id)` → `#/devices/<id>`, with a query when given. */
export function href(...parts: (string | Record<string, string | number | undefined | null>)[]): string {
  const segments: string[] = [];
  let query = '';
  for (const part of parts) {
    if (typeof part === 'string') segments.push(encodeURIComponent(part));
    else {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(part)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
      const text = params.toString();
      if (text) query = `?${text}`;
    }
  }
  return `#/${segments.join('/')}${query}`;
}

export function navigate(target: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', target);
    route.value = parse(location.hash);
  } else {
    location.hash = target.replace(/^#/, '');
  }
}
