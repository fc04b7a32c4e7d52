import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, sqliteErrorName, whileBusy, type SqliteDatabase } from '../../sqlite/database.js';
import { sqliteMigrations } from './migrations.js';
import { publicView, type ApiKeyRecord, type StoredKey } from './record.js';
import {
  KEY_COLUMNS,
  toStoredKey,
  TUPLE_COLUMNS,
  tupleToStoredKey,
  type KeyRow,
  type KeyTuple,
} from './rows.js';
import {
  joinScopes,
  KeyIdTaken,
  rotateRefusal,
  type KeyStore,
  type ListQuery,
  type NewKey,
  type RotateOutcome,
} from './store.js';

/**
 * The default key store: one SQLite file (WAL, so gateway processes read while the CLI or the
 * admin API writes). SQLite is synchronous here; the async interface only matches PostgreSQL's. Writes take the write lock up front (BEGIN IMMEDIATE), which serializes them, so
 * `MAX(version) + 1` is the next number of the change sequence without a race.
 */
export class SqliteKeyStore implements KeyStore {
  readonly kind = 'sqlite';
  readonly #db: SqliteDatabase;
  readonly #statements: ReturnType<typeof prepareStatements>;

  constructor(path: string) {
    const fresh = !existsSync(path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = openSqlite(path);
    if (fresh) chmodSync(path, 0o600);
    whileBusy(() => {
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = NORMAL');
      migrate(this.#db);
    });
    this.#statements = prepareStatements(this.#db);
  }

  async installationId(): Promise<string> {
    const row = this.#statements.installationId.get() as { value: string } | undefined;
    if (row === undefined) throw new Error('key store: installation id missing (migration incomplete)');
    return row.value;
  }

  async insert(key: NewKey): Promise<ApiKeyRecord> {
    return this.#db.immediate(() => this.#insert(key, this.#nextVersion()));
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    return this.#get(id);
  }

  async list(query: ListQuery): Promise<ApiKeyRecord[]> {
    const rows = this.#statements.list.all({
      after: query.after ?? '',
      consumer: query.consumer,
      limit: query.limit,
    }) as unknown as KeyRow[];
    return rows.map((row) => publicView(toStoredKey(row)));
  }

  async revoke(id: string, now: number): Promise<ApiKeyRecord | null> {
    return this.#db.immediate(() => {
      const current = this.#get(id);
      if (current === null || current.status === 'revoked') return current;
      this.#statements.revoke.run({ id, now, version: this.#nextVersion() });
      return this.#get(id);
    });
  }

  async rotate(oldId: string, fresh: NewKey, overlapUntil: number, now: number): Promise<RotateOutcome> {
    return this.#db.immediate((): RotateOutcome => {
      const old = this.#get(oldId);
      if (old === null) return { ok: false, reason: 'not-found' };
      const refusal = rotateRefusal(old, now);
      if (refusal !== null) return { ok: false, reason: refusal };
      const version = this.#nextVersion();
      const stored = this.#insert(fresh, version);
      this.#statements.markReplaced.run({
        id: oldId,
        replacedBy: fresh.id,
        overlapUntil,
        now,
        version: version + 1,
      });
      return { ok: true, old: this.#get(oldId)!, fresh: stored };
    });
  }

  async changesSince(version: number, limit: number): Promise<StoredKey[]> {
    const rows = this.#statements.changesSince.all({ version, limit }) as unknown as KeyTuple[];
    const changes = new Array<StoredKey>(rows.length);
    for (let i = 0; i < rows.length; i += 1) changes[i] = tupleToStoredKey(rows[i]!);
    return changes;
  }

  async recordLastUsed(uses: ReadonlyMap<string, number>): Promise<void> {
    const touch = this.#statements.touch;
    this.#db.immediate(() => {
      for (const [id, at] of uses) touch.run({ id, at });
    });
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #get(id: string): StoredKey | null {
    const row = this.#statements.get.get({ id }) as unknown as KeyRow | undefined;
    return row === undefined ? null : toStoredKey(row);
  }

  #nextVersion(): number {
    return (this.#statements.maxVersion.get() as { v: number }).v + 1;
  }

  #insert(key: NewKey, version: number): StoredKey {
    try {
      this.#statements.insert.run({
        id: key.id,
        hash: key.hash,
        consumer: key.consumer,
        scopes: joinScopes(key.scopes),
        env: key.env,
        createdAt: key.createdAt,
        expiresAt: key.expiresAt,
        version,
      });
    } catch (err) {
      if (sqliteErrorName(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new KeyIdTaken(key.id);
      throw err;
    }
    return this.#get(key.id)!;
  }
}

function migrate(db: SqliteDatabase): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS gatehouse_keys_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
  );
  db.immediate(() => {
    const applied = (
      db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM gatehouse_keys_migrations').get() as {
        v: number;
      }
    ).v;
    sqliteMigrations.forEach((steps, index) => {
      const version = index + 1;
      if (version <= applied) return;
      for (const sql of steps) db.exec(sql);
      db.prepare('INSERT INTO gatehouse_keys_migrations (version, applied_at) VALUES (?, ?)').run(
        version,
        Date.now(),
      );
    });
    db.prepare(
      "INSERT INTO gatehouse_keys_meta (name, value) VALUES ('installation_id', ?) ON CONFLICT (name) DO NOTHING",
    ).run(randomUUID());
  });
}

/** Every statement, prepared once; all parameters are bound, none is spliced into SQL text. */
function prepareStatements(db: SqliteDatabase) {
  return {
    installationId: db.prepare("SELECT value FROM gatehouse_keys_meta WHERE name = 'installation_id'"),
    maxVersion: db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM gatehouse_api_keys'),
    get: db.prepare(`SELECT ${KEY_COLUMNS} FROM gatehouse_api_keys WHERE id = $id`),
    list: db.prepare(
      `SELECT ${KEY_COLUMNS} FROM gatehouse_api_keys
       WHERE id > $after AND ($consumer IS NULL OR consumer = $consumer)
       ORDER BY id LIMIT $limit`,
    ),
    insert: db.prepare(
      `INSERT INTO gatehouse_api_keys
         (id, hash, consumer, scopes, env, status, created_at, expires_at, updated_at, version)
       VALUES ($id, $hash, $consumer, $scopes, $env, 'active', $createdAt, $expiresAt, $createdAt, $version)`,
    ),
    revoke: db.prepare(
      "UPDATE gatehouse_api_keys SET status = 'revoked', updated_at = $now, version = $version WHERE id = $id",
    ),
    markReplaced: db.prepare(
      `UPDATE gatehouse_api_keys
       SET replaced_by = $replacedBy, overlap_until = $overlapUntil, updated_at = $now, version = $version
       WHERE id = $id`,
    ),
    // Rows as arrays, the hash as hex text, env and status as 0/1: loading a million keys at start
    // is mostly this query, and the drivers would otherwise make one object per row, one buffer
    // per BLOB and two more strings per row. Buffer.from(hex) in tupleToStoredKey lands in Node's
    // shared pool instead.
    changesSince: db.prepareArrays(
      `SELECT ${TUPLE_COLUMNS} FROM gatehouse_api_keys
       WHERE version > $version ORDER BY version LIMIT $limit`,
    ),
    touch: db.prepare(
      'UPDATE gatehouse_api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), $at) WHERE id = $id',
    ),
  };
}
