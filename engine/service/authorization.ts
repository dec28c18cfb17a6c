// Who is calling the operator API: a bearer token resolved to a principal (its role and tenant scope), and the checks on it.
import type { BearerToken } from '../http/index.ts';
import type { OperatorRole, OperatorTokenStore } from '../store/index.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';
import { hashToken } from './tokens.ts';

const ROLE_RANK: Record<OperatorRole, number> = { viewer: 0, operator: 1, admin: 2 };
/** The tenant list entry of a token that sees every tenant. */
export const ALL_TENANTS = '*';

export interface Principal {
  id: string;
  name: string;
  role: OperatorRole;
  /** null: every tenant. */
  tenants: readonly string[] | null;
}

/** The principal behind a token that holds at least `role`; 401 or 403 otherwise. */
export type Authorize = (token: BearerToken, role: OperatorRole) => Promise<Principal>;

export function operatorAuthorizer(tokens: OperatorTokenStore): Authorize {
  return async (token, role) => {
    if (!token) throw new UnauthorizedError();
    const row = await tokens.findByHash(hashToken(token));
    if (!row) throw new UnauthorizedError();
    if (ROLE_RANK[row.role] < ROLE_RANK[role]) throw new ForbiddenError(`this needs the ${role} role`);
    return { id: row.id, name: row.name, role: row.role, tenants: row.tenants.includes(ALL_TENANTS) ? null : row.tenants };
  };
}

export function inScope(principal: Principal, tenant: string): boolean {
  return principal.tenants === null || principal.tenants.includes(tenant);
}
