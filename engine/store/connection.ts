// The store's low-level access to PostgreSQL, shared by every aggregate: raw SQL through the ORM's Knex,
// named (prepared) statements on a pooled connection for the hot path, and connection errors translated.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Knex } from '@mikro-orm/knex';
import { translateStoreError } from './errors.ts';

/** The slice of a pg client and of Knex's pool the hot path uses. */
export interface PgConnection {
  query<T>(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: T[] }>;
}
interface KnexPool {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

export function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

export class StoreConnection {
  constructor(private readonly orm: MikroORM) {}

  private get knex(): Knex {
    return this.orm.em.getConnection().getKnex();
  }

  async sql<T>(query: string, bindings: readonly unknown[] = []): Promise<T[]> {
    try {
      const result = (await this.knex.raw(query, bindings as Knex.RawBinding[])) as { rows: T[] };
      return result.rows;
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  /**
   * The hot path: a connection from the ORM's pool, used directly with named (prepared)
   * statements — no query building, and PostgreSQL plans each statement once per connection.
   * Measured: about twice the check-in throughput of going through Knex's raw().
   */
  async withConnection<T>(work: (connection: PgConnection) => Promise<T>): Promise<T> {
    const client = this.knex.client as unknown as KnexPool;
    let connection: PgConnection;
    try {
      connection = await client.acquireConnection();
    } catch (error) {
      throw translateStoreError(error);
    }
    try {
      return await work(connection);
    } catch (error) {
      throw translateStoreError(error);
    } finally {
      await client.releaseConnection(connection);
    }
  }

  async hot<T>(name: string, text: string, values: readonly unknown[]): Promise<T[]> {
    return this.withConnection(async (connection) => (await connection.query<T>({ name, text, values: [...values] })).rows);
  }
}
