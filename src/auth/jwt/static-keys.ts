import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';

/**
 * A key resolver over an issuer's configured keys. Keys with a `kid` are selected by it (RFC 7515
 * §4.1.4); keys without one (PEM files) are tried by algorithm and key type, whatever `kid` the
 * token names, since nothing else identifies them.
 */
export function staticKeyResolver(keys: readonly JWK[]): JWTVerifyGetKey {
  const withKid = keys.filter((key) => typeof key.kid === 'string');
  const withoutKid = keys.filter((key) => typeof key.kid !== 'string');
  const byKid = withKid.length > 0 ? createLocalJWKSet({ keys: withKid }) : null;
  const anonymous = withoutKid.length > 0 ? createLocalJWKSet({ keys: withoutKid }) : null;
  return async function resolveStaticKey(header, token) {
    if (byKid !== null) {
      try {
        return await byKid(header, token);
      } catch (err) {
        if (anonymous === null || !(err instanceof errors.JWKSNoMatchingKey)) throw err;
      }
    }
    if (anonymous === null) throw new errors.JWKSNoMatchingKey();
    return anonymous({ alg: header.alg }, { payload: token.payload, signature: token.signature });
  };
}
