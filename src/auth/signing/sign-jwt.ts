import { sign } from 'node:crypto';
import type { SigningKey } from './signing-keys.js';

/**
 * Signs JWTs (RFC 7519) of one type with ES256 (RFC 7518 §3.4) through node:crypto: one
 * synchronous signature, no WebCrypto round trip. Each token is signed with whichever key of the
 * ring signs at that moment (a rotation takes over without a reload); the JOSE header is encoded
 * once per key. Serialising a JWS is what this does; parsing and verifying is left to jose.
 */
export class JwtSigner {
  readonly #keys: { readonly active: SigningKey };
  readonly #typ: string;
  #key: SigningKey | null = null;
  #encodedHeader = '';

  constructor(keys: { readonly active: SigningKey }, typ: string) {
    this.#keys = keys;
    this.#typ = typ;
  }

  sign(payload: object): string {
    const key = this.#keys.active;
    if (key !== this.#key) {
      this.#key = key;
      // RFC 7515 §4: the header names the key, so a verifier picks it from the published set.
      this.#encodedHeader = Buffer.from(
        JSON.stringify({ alg: 'ES256', typ: this.#typ, kid: key.kid }),
      ).toString('base64url');
    }
    const input = `${this.#encodedHeader}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    // RFC 7518 §3.4: the signature is R || S, 32 bytes each, not DER.
    const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }
}
