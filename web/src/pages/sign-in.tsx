import { useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import { signIn, signedOutReason } from '../session.ts';
import { ErrorNote } from '../ui.tsx';

export function SignInPage() {
  const [value, setValue] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(value);
      setValue('');
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, 'client', String(failure)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>fleetform console</h1>
      <form onSubmit={submit} class="panel">
        {signedOutReason.value && <p class="notice" role="status">{signedOutReason.value}</p>}
        <label for="token">Operator token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={value}
          onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="muted small">
          An operator token (<code>ffo_…</code>) from <code>POST /v1/operator-tokens</code>, or the admin token <code>npm start</code> printed
          (<code>.fleetform/admin-token</code>). It is kept in this tab only and sent to this engine only.
        </p>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>{busy ? 'Signing in …' : 'Sign in'}</button>
      </form>
    </main>
  );
}
