import type { KeyEnv } from './key-format.js';

export type KeyStatus = 'active' | 'revoked';

/**
 * What is known about one API key, never the key itself. Times are milliseconds since the epoch.
 * A rotated key keeps `status: 'active'` and names its successor in `replacedBy`; it is
 * refused once `overlapUntil` has passed.
 */
export interface ApiKeyRecord {
  /** Public id: the first 8 bytes of the key's SHA-256, hex (key-format.ts). */
  readonly id: string;
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly env: KeyEnv;
  readonly status: KeyStatus;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly replacedBy: string | null;
  readonly overlapUntil: number | null;
  readonly updatedAt: number;
  /** Position in the store's change sequence: every create, revoke or rotate takes the next one. */
  readonly version: number;
}

/** A record as the store keeps it: with the key's SHA-256 (32 bytes), which only the verifier reads. */
export interface StoredKey extends ApiKeyRecord {
  readonly hash: Buffer;
}

/** What a caller asks for when creating a key; the lifecycle adds the rest. */
export interface KeyRequest {
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly env: KeyEnv;
  /** Lifetime in milliseconds; null for a key that does not expire. */
  readonly lifetimeMs: number | null;
}

/** Consumer names: an account or application name, safe to print and log. */
const CONSUMER = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
/**
 * RFC 6749 §3.3 scope-token (%x21 / %x23-5B / %x5D-7E), less the comma that separates scopes
 * on the command line.
 */
const SCOPE = /^[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]{1,128}$/;
export const MAX_SCOPES = 64;

/** Why a consumer name or scope list is refused, in words for the operator; null when fine. */
export function keyRequestProblem(consumer: unknown, scopes: unknown): string | null {
  if (typeof consumer !== 'string' || !CONSUMER.test(consumer)) {
    return 'consumer must be 1 to 128 letters, digits, ".", "_", "@", ":" or "-", starting with a letter or digit';
  }
  if (!Array.isArray(scopes) || scopes.length > MAX_SCOPES) {
    return `scopes must be a list of at most ${MAX_SCOPES} scopes`;
  }
  for (const scope of scopes as unknown[]) {
    if (typeof scope !== 'string' || !SCOPE.test(scope)) {
      return 'each scope must be 1 to 128 printable characters without spaces, quotes, commas or backslashes (RFC 6749 §3.3)';
    }
  }
  return null;
}

/** The list form of a record, for `keys list` and `GET /keys`: everything but secrets. */
export function publicView(record: ApiKeyRecord): ApiKeyRecord {
  return {
    id: record.id,
    consumer: record.consumer,
    scopes: record.scopes,
    env: record.env,
    status: record.status,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    lastUsedAt: record.lastUsedAt,
    replacedBy: record.replacedBy,
    overlapUntil: record.overlapUntil,
    updatedAt: record.updatedAt,
    version: record.version,
  };
}
