/**
 * Schema migrations of the key store, one list per dialect, applied in order and recorded in
 * gatehouse_keys_migrations. Append new steps; never edit one that has shipped.
 * Times are BIGINT milliseconds since the epoch in both dialects, so both stores share one
 * row mapping and the change sequence compares numbers, not clock readings.
 */
export const sqliteMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE gatehouse_api_keys (
       id TEXT PRIMARY KEY,
       hash BLOB NOT NULL,
       consumer TEXT NOT NULL,
       scopes TEXT NOT NULL,
       env TEXT NOT NULL CHECK (env IN ('live', 'test')),
       status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
       created_at INTEGER NOT NULL,
       expires_at INTEGER,
       last_used_at INTEGER,
       replaced_by TEXT,
       overlap_until INTEGER,
       updated_at INTEGER NOT NULL,
       version INTEGER NOT NULL UNIQUE
     ) STRICT`,
    'CREATE INDEX gatehouse_api_keys_consumer ON gatehouse_api_keys (consumer, id)',
    'CREATE TABLE gatehouse_keys_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT',
  ],
];

export const postgresMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE gatehouse_api_keys (
       id TEXT PRIMARY KEY,
       hash BYTEA NOT NULL,
       consumer TEXT NOT NULL,
       scopes TEXT NOT NULL,
       env TEXT NOT NULL CHECK (env IN ('live', 'test')),
       status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
       created_at BIGINT NOT NULL,
       expires_at BIGINT,
       last_used_at BIGINT,
       replaced_by TEXT,
       overlap_until BIGINT,
       updated_at BIGINT NOT NULL,
       version BIGINT NOT NULL UNIQUE
     )`,
    'CREATE INDEX gatehouse_api_keys_consumer ON gatehouse_api_keys (consumer, id)',
    'CREATE TABLE gatehouse_keys_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
  ],
];

export const MIGRATIONS_TABLE =
  'CREATE TABLE IF NOT EXISTS gatehouse_keys_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)';
