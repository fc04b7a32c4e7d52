import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { postgresMigrations } from './migrations.js';
import { publicView, type ApiKeyRecord, type StoredKey } from './record.js';
import { KEY_COLUMNS, toStoredKey, type KeyRow } from './rows.js';
import {
  joinScopes,
  KeyIdTaken,
  rotateRefusal,
  type KeyStore,
  type ListQuery,
  type NewKey,
  type RotateOutcome,
} from './store.js';

/** A schema name: checked here because an identifier is the one thing a query cannot bind. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Any constant: serializes migrations across processes starting together. */
const MIGRATION_LOCK = 0x6b657973;
const UNIQUE_VIOLATION = '23505';

type Queryable = pg.Pool | pg.PoolClient;

/**
 * The key store on PostgreSQL. Writers take an EXCLUSIVE lock on the table for their short
 * transaction (readers are not blocked): versions are then handed out in commit order, so a
 * process polling `version > v` can never skip a change that commits late.
 */
export class PostgresKeyStore implements KeyStore {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async open(
    url: string,
    schema: string,
    onError: (err: Error) => void = () => {},
  ): Promise<PostgresKeyStore> {
    if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid PostgreSQL schema name "${schema}"`);
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 5000,
      options: `-c search_path=${schema}`,
    });
    // An idle client losing its connection must not take the gateway down.
    pool.on('error', onError);
    const store = new PostgresKeyStore(pool);
    try {
      await store.#migrate(schema);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  async installationId(): Promise<string> {
    const result = await this.#pool.query<{ value: string }>(
      "SELECT value FROM gatehouse_keys_meta WHERE name = 'installation_id'",
    );
    const row = result.rows[0];
    if (row === undefined) throw new Error('key store: installation id missing (migration incomplete)');
    return row.value;
  }

  async insert(key: NewKey): Promise<ApiKeyRecord> {
    return this.#write(async (client) => this.#insert(client, key, await nextVersion(client)));
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    return getKey(this.#pool, id);
  }

  async list(query: ListQuery): Promise<ApiKeyRecord[]> {
    const result = await this.#pool.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM gatehouse_api_keys
       WHERE id > $1 AND ($2::text IS NULL OR consumer = $2)
       ORDER BY id LIMIT $3`,
      [query.after ?? '', query.consumer, query.limit],
    );
    return result.rows.map((row) => publicView(toStoredKey(row)));
  }

  async revoke(id: string, now: number): Promise<ApiKeyRecord | null> {
    return this.#write(async (client) => {
      const current = await getKey(client, id);
      if (current === null || current.status === 'revoked') return current;
      await client.query(
        "UPDATE gatehouse_api_keys SET status = 'revoked', updated_at = $2, version = $3 WHERE id = $1",
        [id, now, await nextVersion(client)],
      );
      return getKey(client, id);
    });
  }

  async rotate(oldId: string, fresh: NewKey, overlapUntil: number, now: number): Promise<RotateOutcome> {
    return this.#write(async (client): Promise<RotateOutcome> => {
      const old = await getKey(client, oldId);
      if (old === null) return { ok: false, reason: 'not-found' };
      const refusal = rotateRefusal(old, now);
      if (refusal !== null) return { ok: false, reason: refusal };
      const version = await nextVersion(client);
      const stored = await this.#insert(client, fresh, version);
      await client.query(
        `UPDATE gatehouse_api_keys
         SET replaced_by = $2, overlap_until = $3, updated_at = $4, version = $5 WHERE id = $1`,
        [oldId, fresh.id, overlapUntil, now, version + 1],
      );
      return { ok: true, old: (await getKey(client, oldId))!, fresh: stored };
    });
  }

  async changesSince(version: number, limit: number): Promise<StoredKey[]> {
    const result = await this.#pool.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM gatehouse_api_keys WHERE version > $1 ORDER BY version LIMIT $2`,
      [version, limit],
    );
    return result.rows.map(toStoredKey);
  }

  async recordLastUsed(uses: ReadonlyMap<string, number>): Promise<void> {
    if (uses.size === 0) return;
    // One statement for the whole batch: the ids and times travel as two bound arrays.
    await this.#pool.query(
      `UPDATE gatehouse_api_keys AS k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.at)
       FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
      [[...uses.keys()], [...uses.values()]],
    );
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #insert(client: pg.PoolClient, key: NewKey, version: number): Promise<StoredKey> {
    try {
      await client.query(
        `INSERT INTO gatehouse_api_keys
           (id, hash, consumer, scopes, env, status, created_at, expires_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $6, $8)`,
        [
          key.id,
          key.hash,
          key.consumer,
          joinScopes(key.scopes),
          key.env,
          key.createdAt,
          key.expiresAt,
          version,
        ],
      );
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw new KeyIdTaken(key.id);
      throw err;
    }
    return (await getKey(client, key.id))!;
  }

  async #write<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#transaction(async (client) => {
      await client.query('LOCK TABLE gatehouse_api_keys IN EXCLUSIVE MODE');
      return work(client);
    });
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async #migrate(schema: string): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS gatehouse_keys_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const applied = await client.query<{ v: number }>(
        'SELECT COALESCE(MAX(version), 0)::int AS v FROM gatehouse_keys_migrations',
      );
      const done = applied.rows[0]?.v ?? 0;
      for (const [index, steps] of postgresMigrations.entries()) {
        if (index + 1 <= done) continue;
        for (const sql of steps) await client.query(sql);
        await client.query('INSERT INTO gatehouse_keys_migrations (version, applied_at) VALUES ($1, $2)', [
          index + 1,
          Date.now(),
        ]);
      }
      await client.query(
        "INSERT INTO gatehouse_keys_meta (name, value) VALUES ('installation_id', $1) ON CONFLICT (name) DO NOTHING",
        [randomUUID()],
      );
    });
  }
}

async function getKey(db: Queryable, id: string): Promise<StoredKey | null> {
  const result = await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM gatehouse_api_keys WHERE id = $1`, [id]);
  const row = result.rows[0];
  return row === undefined ? null : toStoredKey(row);
}

async function nextVersion(client: pg.PoolClient): Promise<number> {
  const result = await client.query<{ v: string }>(
    'SELECT COALESCE(MAX(version), 0) + 1 AS v FROM gatehouse_api_keys',
  );
  return Number(result.rows[0]!.v);
}
