// Coordination between engine processes on one database: a session advisory lock
// elects the one git follower; LISTEN/NOTIFY tells the others a revision was applied.
import pg from 'pg';

/** Advisory lock key of the git follower ('fleetfrm' as an int64-ish constant). */
export const ADVISORY_LOCK_GIT_FOLLOWER = 0x666c656574666f72n;
export const REVISION_CHANNEL = 'fleetform_revision_applied';

export interface RevisionChannelOptions {
  url: string;
  /** Another process applied this revision. */
  onApplied(sha: string): void;
  /** The dedicated connection was lost (leadership with it); reconnect happens on the next tryLead. */
  onLost?(error: unknown): void;
}

export class RevisionChannel {
  private client: pg.Client | null = null;
  private leading = false;

  constructor(private readonly options: RevisionChannelOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.options.url });
    const lost = (error: unknown): void => {
      if (this.client !== client) return;
      this.client = null;
      this.leading = false;
      this.options.onLost?.(error);
      client.end().catch(() => undefined);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === REVISION_CHANNEL && message.payload) this.options.onApplied(message.payload);
    });
    await client.connect();
    await client.query(`listen ${REVISION_CHANNEL}`);
    this.client = client;
    return client;
  }

  /** Connects (listening) and tries to become the git follower; true while this process holds the lock. */
  async tryLead(): Promise<boolean> {
    const client = await this.connection();
    if (this.leading) return true;
    const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [
      ADVISORY_LOCK_GIT_FOLLOWER.toString(),
    ]);
    this.leading = result.rows[0]?.locked === true;
    return this.leading;
  }

  /** Tells every other engine process that `sha` is now the applied revision. */
  async publish(sha: string): Promise<void> {
    const client = await this.connection();
    await client.query('select pg_notify($1, $2)', [REVISION_CHANNEL, sha]);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.leading = false;
    // Closing the session releases the advisory lock.
    if (client) await client.end().catch(() => undefined);
  }
}
