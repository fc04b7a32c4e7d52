/**
 * API keys (DESIGN.md "Security defaults"; issue 3 items 1–2).
 *
 * ## For the authenticate stage
 *
 *     const result = verifier.verify(headerValue);   // synchronous, O(1), ~1–2 µs
 *     if (!result.ok) refuse(result.reason);         // 'malformed' | 'checksum' | 'unknown' | 'expired' | 'revoked'
 *     else result.key                                // VerifiedKey: id, consumer, scopes, scopeSet, env, expiresAt, …
 *
 * - `headerValue` is the raw header text; anything that is not exactly one well-formed key is
 *   'malformed' (no trimming, no `Bearer` prefix handling: strip that before calling).
 * - 'malformed' and 'checksum' are decided without touching the index (typos, truncation);
 *   'unknown' covers both "no such id" and "digest differs" (constant-time comparison).
 * - A rotated key is accepted until its `overlapUntil`, then refused as 'expired'.
 * - The returned objects are frozen and shared: never mutate them; `key.scopeSet` is read-only.
 * - Keys in the query string: `containsApiKeyShape(rawQuery)` says whether one is there (refuse
 *   the request; the key is exposed whether or not it is valid).
 * - `result.key.id` is safe to log and to put in the identity assertion; the key never is.
 * - Last-use times are recorded in memory by `verify` and written back in batches by KeySync.
 * - `verifier.stateOf(keyId)` ('active' | 'revoked' | 'expired' | 'unknown', same O(1) index,
 *   nothing allocated) is what an access token minted from a key is checked against on each use.
 *
 * The running gateway's verifier is `gateway.keys.verifier` (startKeyServices in services.ts,
 * called once from gateway.ts); it stays the same object across configuration reloads.
 *
 * ## Key format (key-format.ts)
 *
 *     gk_<live|test>_<32 base62 chars: 190 random bits>_<6 base62 chars: CRC-32 of the rest>
 *
 * Scanner regex: API_KEY_SCANNER_REGEX, `\bgk_(?:live|test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}\b`.
 * Key id: hex of the first 8 bytes of SHA-256(key). Only SHA-256(key) is stored.
 *
 * ## Store and sync
 *
 * KeyStore (store.ts) has two implementations: SqliteKeyStore (WAL, default
 * `<stateDir>/keys.db`) and PostgresKeyStore. Every change takes the next number of one change
 * sequence; KeySync (sync.ts) reads `changesSince(version)` on a Redis pub/sub nudge (channel
 * `gatehouse:<installation id>:keys`) or by polling every `keys.sync.pollMs` (≤ 500 ms).
 * KeyLifecycle (lifecycle.ts) is create / list / revoke / rotate, shared by the CLI and the
 * admin API (src/admin).
 */
export {
  API_KEY_LENGTH,
  API_KEY_SCANNER_REGEX,
  checkKeyShape,
  containsApiKeyShape,
  envOf,
  generateApiKey,
  hashApiKey,
  keyIdOf,
  KEY_ID_PATTERN,
  type KeyEnv,
} from './key-format.js';
export {
  ApiKeyVerifier,
  type KeyState,
  type VerifiedKey,
  type VerifyFailure,
  type VerifyResult,
} from './verifier.js';
export type { ApiKeyRecord, KeyStatus } from './record.js';
export { KeyLifecycle, KeyRequestError, type CreatedKey, type RotatedKey } from './lifecycle.js';
export type { KeyStore } from './store.js';
export { startKeyServices, openKeyStore, type KeyServices } from './services.js';
