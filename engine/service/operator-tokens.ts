// Operator tokens: creating one (admins, within their own tenants; the token shown once) and the
// bootstrap admin at start (the configured token, or one generated when the database has no admin).
import type { BearerToken, OperatorTokenRequest } from '../http/index.ts';
import { ALL_TENANTS } from './authorization.ts';
import { ForbiddenError, InvalidRequestError } from './errors.ts';
import type { OperatorContext } from './operator-context.ts';
import { generateToken, hashToken } from './tokens.ts';

export interface AdminBootstrap {
  /** Admin token to ensure exists (FLEETFORM_ADMIN_TOKEN). */
  adminToken?: string;
  /** Called once with a generated admin token when the database has no admin yet and none was given. */
  onAdminTokenGenerated?(token: string): Promise<void> | void;
}

export class OperatorTokens {
  constructor(private readonly context: OperatorContext) {}

  async bootstrapAdmin(options: AdminBootstrap): Promise<void> {
    const given = options.adminToken;
    if (given) {
      const hash = hashToken(given);
      if (!(await this.context.store.operatorTokens.hasHash(hash))) {
        await this.context.store.operatorTokens.create({ name: 'bootstrap-admin', tokenHash: hash, role: 'admin', tenants: [ALL_TENANTS] });
      }
      return;
    }
    if (await this.context.store.operatorTokens.hasAdmin()) return;
    const token = generateToken('ffo');
    await this.context.store.operatorTokens.create({ name: 'bootstrap-admin', tokenHash: hashToken(token), role: 'admin', tenants: [ALL_TENANTS] });
    await options.onAdminTokenGenerated?.(token);
  }

  async createOperatorToken(token: BearerToken, request: OperatorTokenRequest): Promise<object> {
    const principal = await this.context.authorize(token, 'admin');
    const body = request as Partial<OperatorTokenRequest> | null;
    if (!body || typeof body.name !== 'string' || body.name === '') throw new InvalidRequestError('invalid-request', '/name', 'name is required');
    if (body.role !== 'viewer' && body.role !== 'operator' && body.role !== 'admin') {
      throw new InvalidRequestError('invalid-request', '/role', 'role must be viewer, operator or admin');
    }
    if (!Array.isArray(body.tenants) || body.tenants.length === 0 || !body.tenants.every((t) => typeof t === 'string' && t !== '')) {
      throw new InvalidRequestError('invalid-request', '/tenants', 'tenants must be a non-empty list of tenant names (or "*")');
    }
    if (principal.tenants !== null && !body.tenants.every((t) => principal.tenants?.includes(t))) {
      throw new ForbiddenError('a token cannot grant tenants outside its own scope');
    }
    const operatorToken = generateToken('ffo');
    const id = await this.context.store.operatorTokens.create({ name: body.name, tokenHash: hashToken(operatorToken), role: body.role, tenants: body.tenants });
    return { id, name: body.name, role: body.role, tenants: body.tenants, token: operatorToken };
  }
}
