/**
 * An access token the gateway mints for a client authenticated by an API key names that key, so
 * that revoking the key reaches the token at once (issue #19) instead of at its `exp`: on every
 * use the key's state is read from the key index, in memory, and anything but 'active' refuses it.
 */

/**
 * The private claim (RFC 7519 §4.3) naming, by its public id, the API key a token was minted
 * from. Not `cnf` (RFC 7800: a key the presenter must prove it holds; these are bearer tokens)
 * nor `act` (RFC 8693 §4.1: another party acting for the subject). The same name as the
 * `key_id` claim of an API-key principal, so a claim condition reads either alike.
 */
export const MINTING_KEY_CLAIM = 'key_id';

/** The state of a key as the key index reports it (src/auth/keys ApiKeyVerifier.stateOf). */
export type MintingKeyState = 'active' | 'revoked' | 'expired' | 'unknown';

/** The key index as the JWT verifier uses it: one synchronous in-memory lookup, no I/O. */
export interface MintingKeyStates {
  /** `nowMs`: the time the caller has read already (a clock read is not free on every request). */
  stateOf(keyId: string, nowMs: number): MintingKeyState;
}

/** The journey's reason for refusing a token whose minting key is no longer active. */
export function mintingKeyRefusal(state: Exclude<MintingKeyState, 'active'>, keyId: string): string {
  switch (state) {
    case 'revoked':
      return `jwt.key-revoked: the API key it was minted from is revoked (key ${keyId})`;
    case 'expired':
      return `jwt.key-expired: the API key it was minted from has expired or its rotation overlap has ended (key ${keyId})`;
    case 'unknown':
      return `jwt.key-unknown: the API key it was minted from is not in the key index (key ${keyId})`;
  }
}
