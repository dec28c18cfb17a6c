// The operator API's two reads for an overview (GET /v1/me, GET /v1/fleet/summary): who the token is,
// and the fleet's counts within its tenants.
import type { BearerToken, FleetSummary, OverviewApi, Whoami } from '../http/index.ts';
import { ALL_TENANTS } from './authorization.ts';
import { summarizeFleet } from './fleet-summary.ts';
import type { OperatorContext } from './operator-context.ts';

export class OperatorOverview implements OverviewApi {
  constructor(private readonly context: OperatorContext) {}

  async whoami(token: BearerToken): Promise<Whoami> {
    const principal = await this.context.authorize(token, 'viewer');
    return { name: principal.name, role: principal.role, tenants: principal.tenants ? [...principal.tenants] : [ALL_TENANTS] };
  }

  async fleetSummary(token: BearerToken): Promise<FleetSummary> {
    const principal = await this.context.authorize(token, 'viewer');
    return summarizeFleet(this.context.store, principal.tenants);
  }
}
