import { API_KEY_SCANNER_REGEX } from '../auth/keys/key-format.js';

/** A credential found in a plaintext request: an API key or an Authorization header. */
export interface ExposedCredential {
  readonly kind: 'api-key' | 'authorization';
  /** The id of an active key of this gateway's store: the key to ban and rotate; null for anything else. */
  readonly keyId: string | null;
}

const AUTHORIZATION_HEADER = /(?:^|\r?\n)authorization[ \t]*:[ \t]*\S/i;

/**
 * Looks through the first bytes of a plaintext request (request line and headers, at most
 * `maxBytes`) for a credential: a Gatehouse API key anywhere (header, query, body) or an
 * Authorization header. Nothing found is kept beyond the id of a key the store knows (`identify`):
 * a made-up key of the right shape names nothing, so it cannot get another key banned.
 */
export function exposedCredentialIn(
  chunk: Buffer,
  maxBytes: number,
  identify: (key: string) => string | null,
): ExposedCredential | null {
  const text = chunk.toString('latin1', 0, Math.min(chunk.length, maxBytes));
  const key = API_KEY_SCANNER_REGEX.exec(text)?.[0];
  if (key !== undefined) return { kind: 'api-key', keyId: identify(key) };
  return AUTHORIZATION_HEADER.test(text) ? { kind: 'authorization', keyId: null } : null;
}
