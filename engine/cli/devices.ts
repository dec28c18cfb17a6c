// `fleetform devices register …`: registration through the operator API (the engine must be running).
import type { CommandRegistrar } from './context.ts';
import { UsageError } from './context.ts';

interface RegisterFlags {
  id: string;
  profile: string;
  site: string;
  label: string[];
  url: string;
  token?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--label: expected key=value, got ${pair}`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

export const registerDevices: CommandRegistrar = (program, ctx) => {
  const devices = program.command('devices').description('Manage registered devices through the operator API');
  devices
    .command('register')
    .description('Register a device; prints its token once')
    .requiredOption('--id <id>', 'device id')
    .requiredOption('--profile <name>', 'device profile')
    .requiredOption('--site <name>', 'site')
    .option('--label <key=value>', 'label (repeatable)', collect, [])
    .option('--url <url>', 'engine URL', ctx.env.FLEETFORM_URL ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'operator token (default: FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN)')
    .action(async (flags: RegisterFlags) => {
      const token = flags.token ?? ctx.env.FLEETFORM_TOKEN ?? ctx.env.FLEETFORM_ADMIN_TOKEN;
      if (!token) throw new UsageError('an operator token is needed: --token, FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN');
      const body = { id: flags.id, profile: flags.profile, site: flags.site, labels: parseLabels(flags.label) };
      let response: Response;
      try {
        response = await fetch(new URL('/v1/devices', flags.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
      } catch (error) {
        ctx.stderr(`error: cannot reach ${flags.url}: ${(error as Error).message}\n`);
        ctx.exit(1);
        return;
      }
      const payload = (await response.json().catch(() => null)) as
        | { token?: string; error?: { code: string; message: string; field?: string } }
        | null;
      if (!response.ok || !payload?.token) {
        const error = payload?.error;
        ctx.stderr(`error: ${response.status} ${error ? `[${error.code}] ${error.message}${error.field ? ` (${error.field})` : ''}` : response.statusText}\n`);
        ctx.exit(1);
        return;
      }
      ctx.stdout(`registered ${flags.id}\ndevice token (shown once): ${payload.token}\n`);
    });
};
