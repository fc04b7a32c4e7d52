import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DATABASE_URL = process.env.DATABASE_URL ?? null;
const REDIS_URL = process.env.REDIS_URL ?? null;

/** One way for several gateways to share a key store, for tests that run each of them. */
export interface KeyStoreSetup {
  readonly name: string;
  /** Why it cannot run here; null when it can. */
  readonly skip: string | null;
  /** The `keys:` section, the environment its references need, and how to drop what it made. */
  keys(): Promise<{ yaml: string; env: Record<string, string>; cleanup: () => Promise<void> }>;
}

/**
 * SQLite in the shared state folder (polling), and PostgreSQL with Redis pub/sub when CI's
 * DATABASE_URL and REDIS_URL are set; `tag` names the PostgreSQL schema and the variables.
 */
export function keyStoreSetups(tag: string): KeyStoreSetup[] {
  const databaseVar = `GH_${tag.toUpperCase()}_DATABASE_URL`;
  const redisVar = `GH_${tag.toUpperCase()}_REDIS_URL`;
  return [
    {
      name: 'SQLite in the shared state folder, polling every 250 ms',
      skip: null,
      keys: async () => ({ yaml: 'keys:\n  sync: { pollMs: 250 }\n', env: {}, cleanup: async () => {} }),
    },
    {
      name: 'PostgreSQL, Redis pub/sub',
      skip:
        DATABASE_URL === null || REDIS_URL === null
          ? 'DATABASE_URL and REDIS_URL are not both set (CI sets them)'
          : null,
      async keys() {
        const schema = `gh_keys_${tag}_${randomBytes(6).toString('hex')}`;
        return {
          yaml:
            'keys:\n' +
            `  store: { postgres: { url: env:${databaseVar}, schema: ${schema} } }\n` +
            // Polling is the 5 s safety net while subscribed: within a second means Redis carried it.
            `  sync: { redisUrl: env:${redisVar}, pollMs: 500 }\n`,
          env: { [databaseVar]: DATABASE_URL!, [redisVar]: REDIS_URL! },
          async cleanup() {
            const client = new pg.Client({ connectionString: DATABASE_URL! });
            await client.connect();
            await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
            await client.end();
          },
        };
      },
    },
  ];
}
