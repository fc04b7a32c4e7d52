import { API_KEY_SCANNER_REGEX, checkKeyShape, hashApiKey, keyIdOf } from '../auth/keys/key-format.js';

/** A credential found in a plaintext request: an API key (with its id when its checksum holds) or an Authorization header. */
export interface ExposedCredential {
  readonly kind: 'api-key' | 'authorization';
  /** The id of a well-formed Gatehouse API key: the key to ban or rotate. */
  readonly keyId: string | null;
}

const AUTHORIZATION_HEADER = /(?:^|\r?\n)authorization[ \t]*:[ \t]*\S/i;

/**
 * Looks through the first bytes of a plaintext request (request line and headers, at most
 * `maxBytes`) for a credential: a Gatehouse API key anywhere (header, query, body) or an
 * Authorization header. Nothing found is kept beyond the key's id.
 */
export function exposedCredentialIn(chunk: Buffer, maxBytes: number): ExposedCredential | null {
  const text = chunk.toString('latin1', 0, Math.min(chunk.length, maxBytes));
  const key = API_KEY_SCANNER_REGEX.exec(text)?.[0];
  if (key !== undefined) {
    return { kind: 'api-key', keyId: checkKeyShape(key) === null ? keyIdOf(hashApiKey(key)) : null };
  }
  return AUTHORIZATION_HEADER.test(text) ? { kind: 'authorization', keyId: null } : null;
}
