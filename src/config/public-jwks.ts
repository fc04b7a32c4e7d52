import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const SIGNING_KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The public signature keys of an untrusted JWKS document: a symmetric (`oct`) key, a private
 * key, or an encryption key is dropped, so no JWKS can make an HMAC or a leaked private key a
 * verification key (algorithm confusion, RFC 8725 §2.1). Throws when nothing usable is left.
 */
export function publicSigningKeys(document: unknown): JSONWebKeySet {
  if (!isRecord(document) || !Array.isArray(document.keys)) {
    throw new TypeError('not a JWK Set (an object with a "keys" array, RFC 7517 §5)');
  }
  const keys: JWK[] = [];
  for (const candidate of document.keys as unknown[]) {
    if (isPublicSigningJwk(candidate)) keys.push(candidate as JWK);
  }
  if (keys.length === 0) throw new TypeError('the JWK Set holds no public signature key');
  return { keys };
}

function isPublicSigningJwk(jwk: unknown): boolean {
  if (!isRecord(jwk) || typeof jwk.kty !== 'string' || !SIGNING_KEY_TYPES.has(jwk.kty)) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  return PRIVATE_MEMBERS.every((member) => jwk[member] === undefined);
}

/**
 * The JWKs in one configured key file: PEM public keys or certificates, a JWK, or a JWK Set.
 * Throws (with a message for the operator, never the file's text) when it holds anything else.
 */
export function jwksFromKeyFile(text: string): JWK[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const parsed: unknown = JSON.parse(trimmed);
    const document = isRecord(parsed) && Array.isArray(parsed.keys) ? parsed : { keys: [parsed] };
    return publicSigningKeys(document).keys;
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) {
    throw new TypeError('holds a private key: give the issuer\'s public key ("-----BEGIN PUBLIC KEY-----")');
  }
  const blocks = trimmed.match(/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----[\s\S]+?-----END \1-----/g) ?? [];
  if (blocks.length === 0) throw new TypeError('holds no PEM public key, certificate, JWK or JWK Set');
  return blocks.map((block) => publicKeyOf(block).export({ format: 'jwk' }) as JWK);
}

function publicKeyOf(pem: string): KeyObject {
  return pem.includes('CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
}
