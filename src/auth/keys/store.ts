import type { KeyEnv } from './key-format.js';
import type { ApiKeyRecord, StoredKey } from './record.js';

/** A key about to be stored: its id and hash, never the key. */
export interface NewKey {
  readonly id: string;
  readonly hash: Buffer;
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly env: KeyEnv;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

export interface ListQuery {
  /** Keyset paging: ids after this one, in id order. */
  readonly after: string | null;
  readonly limit: number;
  readonly consumer: string | null;
}

export type RotateRefusal = 'not-found' | 'revoked' | 'expired' | 'rotated';
export type RotateOutcome =
  | { readonly ok: true; readonly old: ApiKeyRecord; readonly fresh: ApiKeyRecord }
  | { readonly ok: false; readonly reason: RotateRefusal };

/**
 * Where key records live: SQLite (sqlite-store.ts) or PostgreSQL (postgres-store.ts). Every
 * change (insert, revoke, rotate) gives each row it touches the next number of one change
 * sequence, in commit order, so `changesSince(v)` is all a process needs to catch up.
 * Recording last use is not a change: it bumps nothing, so the per-process write-back never
 * makes every other process reload.
 */
export interface KeyStore {
  readonly kind: 'sqlite' | 'postgres';
  /** A random id made by the first migration: names the Redis channel of this installation. */
  installationId(): Promise<string>;
  /** Throws KeyIdTaken when a key with this id exists (2^-64 per pair: the caller draws again). */
  insert(key: NewKey): Promise<ApiKeyRecord>;
  get(id: string): Promise<ApiKeyRecord | null>;
  list(query: ListQuery): Promise<ApiKeyRecord[]>;
  /** Revokes the key; an already revoked key is returned unchanged; null when there is none. */
  revoke(id: string, now: number): Promise<ApiKeyRecord | null>;
  /** In one transaction: stores `fresh` and marks `oldId` as replaced by it until `overlapUntil`. */
  rotate(oldId: string, fresh: NewKey, overlapUntil: number, now: number): Promise<RotateOutcome>;
  /** Rows changed after `version`, oldest change first, at most `limit` of them. */
  changesSince(version: number, limit: number): Promise<StoredKey[]>;
  /** Batched write-back of last-use times (id → ms); a time never moves backwards. */
  recordLastUsed(uses: ReadonlyMap<string, number>): Promise<void>;
  close(): Promise<void>;
}

export class KeyIdTaken extends Error {
  constructor(id: string) {
    super(`a key with id ${id} already exists`);
    this.name = 'KeyIdTaken';
  }
}

/** Why `old` may not be rotated now, or null. Shared by both stores so they agree. */
export function rotateRefusal(old: ApiKeyRecord, now: number): RotateRefusal | null {
  if (old.status === 'revoked') return 'revoked';
  if (old.replacedBy !== null) return 'rotated';
  if (old.expiresAt !== null && old.expiresAt <= now) return 'expired';
  return null;
}

/** Scopes are stored as one space-separated string, the OAuth 2.0 form (RFC 6749 §3.3). */
export function joinScopes(scopes: readonly string[]): string {
  return scopes.join(' ');
}

export function splitScopes(stored: string): string[] {
  return stored === '' ? [] : stored.split(' ');
}
