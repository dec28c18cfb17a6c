#!/usr/bin/env node
// The fleetform command: TypeScript sources run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../engine/main.ts');
process.exitCode = await runCli(process.argv);
