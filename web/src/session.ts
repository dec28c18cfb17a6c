// Who is signed in. The operator token lives in this tab's sessionStorage only (gone when the tab
// closes, never in a URL, a cookie or localStorage) and is sent as a bearer header. The role decides
// which controls a page shows; the engine decides what is allowed.
import { computed, signal } from '@preact/signals';
import { ApiError, createApiClient } from './api.ts';

export interface Me {
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  tenants: string[];
}

const STORAGE_KEY = 'fleetform.operator-token';

function stored(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export const token = signal<string | null>(stored());
export const me = signal<Me | null>(null);
/** Why the last session ended, shown on the sign-in page. */
export const signedOutReason = signal<string | null>(null);

/** Operators and admins may act; viewers only look. */
export const canWrite = computed(() => me.value !== null && me.value.role !== 'viewer');

export const api = createApiClient(
  () => token.value,
  () => {
    if (token.value) signOut('The engine refused the token (expired or revoked). Sign in again.');
  },
);

export function signOut(reason: string | null = null): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage unavailable: nothing kept
  }
  api.clear();
  token.value = null;
  me.value = null;
  signedOutReason.value = reason;
}

/** Checks the token with the engine; keeps it only when the engine accepts it. */
export async function signIn(candidate: string): Promise<void> {
  const value = candidate.trim();
  if (!/^\S+$/.test(value)) throw new ApiError(400, 'invalid-token', 'Paste the whole operator token (ffo_…).');
  let who: Me;
  try {
    who = await createApiClient(() => value, () => undefined).get<Me>('/v1/me');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw new ApiError(401, 'unauthorized', 'The engine does not know this token.');
    throw error;
  }
  try {
    sessionStorage.setItem(STORAGE_KEY, value);
  } catch {
    // private mode without storage: the session lasts until reload
  }
  signedOutReason.value = null;
  me.value = who;
  token.value = value;
}

/** Why a kept token could not be checked yet (the engine does not answer): shown while retrying. */
export const resumeProblem = signal<string | null>(null);

/** A token kept from earlier in this tab: who is it? Retried while the engine does not answer. */
export async function resume(): Promise<void> {
  while (token.value && !me.value) {
    const asked = token.value;
    try {
      const who = await api.get<Me>('/v1/me');
      if (token.value === asked) me.value = who;
      resumeProblem.value = null;
      return;
    } catch (error) {
      // A 401 has already signed the tab out (the client's onUnauthorized).
      if (error instanceof ApiError && error.status === 401) return;
      resumeProblem.value = error instanceof Error ? error.message : String(error);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}
