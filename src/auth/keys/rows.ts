import type { KeyEnv } from './key-format.js';
import type { KeyStatus, StoredKey } from './record.js';
import { splitScopes } from './store.js';

/** Columns every read selects, in one place so both stores map the same row shape. */
export const KEY_COLUMNS =
  'id, hash, consumer, scopes, env, status, created_at, expires_at, last_used_at, replaced_by, overlap_until, updated_at, version';

/**
 * A row as every driver returns it (PostgreSQL BIGINTs arrive as strings, SQLite INTEGERs as
 * numbers; node:sqlite gives a BLOB as a plain Uint8Array).
 */
export interface KeyRow {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly consumer: string;
  readonly scopes: string;
  readonly env: string;
  readonly status: string;
  readonly created_at: number | string;
  readonly expires_at: number | string | null;
  readonly last_used_at: number | string | null;
  readonly replaced_by: string | null;
  readonly overlap_until: number | string | null;
  readonly updated_at: number | string;
  readonly version: number | string;
}

export function toStoredKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    hash: Buffer.isBuffer(row.hash)
      ? row.hash
      : Buffer.from(row.hash.buffer, row.hash.byteOffset, row.hash.byteLength),
    consumer: row.consumer,
    scopes: splitScopes(row.scopes),
    // The CHECK constraints of the migrations guarantee these two.
    env: row.env as KeyEnv,
    status: row.status as KeyStatus,
    createdAt: Number(row.created_at),
    expiresAt: nullableNumber(row.expires_at),
    lastUsedAt: nullableNumber(row.last_used_at),
    replacedBy: row.replaced_by,
    overlapUntil: nullableNumber(row.overlap_until),
    updatedAt: Number(row.updated_at),
    version: Number(row.version),
  };
}

function nullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** SQLite's change feed (sqlite-store.ts): KEY_COLUMNS with the hash as hex, env and status as 0/1. */
export const TUPLE_COLUMNS =
  "id, hex(hash), consumer, scopes, env = 'live', status = 'revoked', created_at, expires_at, last_used_at, " +
  'replaced_by, overlap_until, updated_at, version';

export type KeyTuple = readonly [
  id: string,
  hashHex: string,
  consumer: string,
  scopes: string,
  live: 0 | 1,
  revoked: 0 | 1,
  createdAt: number,
  expiresAt: number | null,
  lastUsedAt: number | null,
  replacedBy: string | null,
  overlapUntil: number | null,
  updatedAt: number,
  version: number,
];

export function tupleToStoredKey(t: KeyTuple): StoredKey {
  return {
    id: t[0],
    // Buffer.from on a short string draws from Node's shared pool: no allocation per key.
    hash: Buffer.from(t[1], 'hex'),
    consumer: t[2],
    scopes: splitScopes(t[3]),
    env: t[4] === 1 ? 'live' : 'test',
    status: t[5] === 1 ? 'revoked' : 'active',
    createdAt: t[6],
    expiresAt: t[7],
    lastUsedAt: t[8],
    replacedBy: t[9],
    overlapUntil: t[10],
    updatedAt: t[11],
    version: t[12],
  };
}
