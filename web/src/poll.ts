// Live pages: each resource a page shows is fetched, then fetched again every few seconds while the
// tab is visible (ETag revalidation makes an unchanged answer a 304). Polling rather than server-sent
// events: see docs/console.md.
import { signal } from '@preact/signals';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { api } from './session.ts';

/** Default refresh period of a page. */
export const REFRESH_MS = 5000;
/**
 * A resource that took the engine long to answer is asked again less often: at least this many times
 * its answer time later. One console on a slow view (the rollout detail reads every device) then
 * costs the engine a tenth of its time at most, however many devices there are.
 */
const SLOW_ANSWER_FACTOR = 10;

/** When any resource last answered, and whether the engine is answering at all (the header shows it). */
export const lastAnswerAt = signal<Date | null>(null);
export const engineUnreachable = signal(false);

export interface Resource<T> {
  data: T | null;
  error: ApiError | null;
  /** True until the first answer (or error) for this path. */
  loading: boolean;
  refresh(): Promise<void>;
}

/**
 * `path` null: nothing to fetch (yet). `every` 0: fetch once. `load` defaults to a JSON GET.
 * Answers for an older path are dropped, so a fast click through pages never shows the wrong page.
 */
export function useResource<T>(path: string | null, every = REFRESH_MS, load: (path: string) => Promise<T> = (p) => api.get<T>(p)): Resource<T> {
  const [state, setState] = useState<{ path: string | null; data: T | null; error: ApiError | null; loading: boolean }>({
    path,
    data: null,
    error: null,
    loading: path !== null,
  });
  const current = useRef(path);
  current.current = path;
  const loader = useRef(load);
  loader.current = load;

  /** Fetches; resolves with the least delay before the next fetch (Retry-After, or a slow answer's back-off). */
  const fetchNow = useCallback(async (): Promise<number | undefined> => {
    const asked = current.current;
    if (asked === null) return undefined;
    const started = performance.now();
    try {
      const data = await loader.current(asked);
      if (current.current !== asked) return undefined;
      lastAnswerAt.value = new Date();
      engineUnreachable.value = false;
      setState((s) => (s.path === asked && s.data === data && s.error === null && !s.loading ? s : { path: asked, data, error: null, loading: false }));
      return (performance.now() - started) * SLOW_ANSWER_FACTOR;
    } catch (error) {
      if (current.current !== asked) return undefined;
      const failure = error instanceof ApiError ? error : new ApiError(0, 'client', String(error));
      engineUnreachable.value = failure.status === 0;
      // Keep what was shown: a failed refresh does not blank the page.
      setState((s) => ({ path: asked, data: s.path === asked ? s.data : null, error: failure, loading: false }));
      return failure.retryAfter !== undefined ? failure.retryAfter * 1000 : undefined;
    }
  }, []);

  useEffect(() => {
    if (path === null) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const schedule = (delay: number): void => {
      if (stopped || every <= 0) return;
      timer = setTimeout(tick, delay);
    };
    const tick = async (): Promise<void> => {
      if (document.visibilityState !== 'visible') return schedule(every);
      const wait = await fetchNow();
      schedule(Math.max(every, wait ?? 0));
    };
    void fetchNow().then((wait) => schedule(Math.max(every, wait ?? 0)));
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') void fetchNow();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, every]);

  const refresh = useCallback(async () => {
    await fetchNow();
  }, [fetchNow]);

  const same = state.path === path;
  return { data: same ? state.data : null, error: same ? state.error : null, loading: same ? state.loading : path !== null, refresh };
}

/** Whether the engine has a route, asked once per session (OPTIONS): optional panels show themselves when it does. */
const known = new Map<string, Promise<boolean>>();

export function useCapability(path: string, method = 'GET'): boolean {
  const key = `${method} ${path}`;
  const [allowed, setAllowed] = useState(false);
  useEffect(() => {
    let live = true;
    let probe = known.get(key);
    if (!probe) {
      probe = api.allows(path, method);
      known.set(key, probe);
    }
    void probe.then((yes) => {
      if (live) setAllowed(yes);
    });
    return () => {
      live = false;
    };
  }, [key]);
  return allowed;
}

export function forgetCapabilities(): void {
  known.clear();
}
