/**
 * Test support for the key tests (not imported by the gateway): throw-away stores on a real
 * SQLite file or in a fresh PostgreSQL schema, and the reason a PostgreSQL / Redis test is skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresKeyStore } from './postgres-store.js';
import { SqliteKeyStore } from './sqlite-store.js';
import type { KeyStore } from './store.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? null;
export const REDIS_URL = process.env.REDIS_URL ?? null;

export interface StoreFixture {
  readonly name: 'sqlite' | 'postgres';
  /** Opens another handle on the same store, as a second process would. */
  open(): Promise<KeyStore>;
  /** How a configuration file names this store (YAML), for end-to-end tests. */
  readonly yaml: string;
  remove(): Promise<void>;
}

export async function sqliteFixture(): Promise<StoreFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-keys-'));
  const path = join(dir, 'keys.db');
  return {
    name: 'sqlite',
    open: async () => new SqliteKeyStore(path),
    yaml: `store: { sqlite: { path: ${path} } }`,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A fresh schema per fixture, so tests never see each other's keys (or anyone else's). */
export async function postgresFixture(url: string): Promise<StoreFixture> {
  const schema = `gh_keys_test_${randomBytes(6).toString('hex')}`;
  return {
    name: 'postgres',
    open: () => PostgresKeyStore.open(url, schema),
    yaml: `store: { postgres: { url: "env:GATEHOUSE_TEST_DATABASE_URL", schema: ${schema} } }`,
    async remove() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

/** Every store the environment offers: SQLite always, PostgreSQL when DATABASE_URL is set. */
export function storeKinds(): { name: string; make: () => Promise<StoreFixture>; skip: string | null }[] {
  return [
    { name: 'sqlite', make: sqliteFixture, skip: null },
    {
      name: 'postgres',
      make: () => postgresFixture(DATABASE_URL!),
      skip: DATABASE_URL === null ? 'DATABASE_URL is not set (CI sets it)' : null,
    },
  ];
}
