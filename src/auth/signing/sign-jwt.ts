import { sign } from 'node:crypto';
import type { SigningKey } from './signing-keys.js';

/**
 * Signs a JWT (RFC 7519) with ES256 (RFC 7518 §3.4) through node:crypto: one synchronous
 * signature, no WebCrypto round trip. Serialising a JWS is what this does; parsing and verifying
 * tokens is left to jose. `encodedHeader` comes from `encodeJwtHeader`, computed once per key.
 */
export function signJwt(key: SigningKey, encodedHeader: string, payload: object): string {
  const input = `${encodedHeader}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  // RFC 7518 §3.4: the signature is R || S, 32 bytes each, not DER.
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The base64url JOSE header (RFC 7515 §4) for tokens of type `typ` signed by `key`. */
export function encodeJwtHeader(key: SigningKey, typ: string): string {
  return Buffer.from(JSON.stringify({ alg: 'ES256', typ, kid: key.kid })).toString('base64url');
}
