import type { GatehouseConfig } from './types.js';

/**
 * What a valid configuration still gives away, said by `check-config` and logged at start: each
 * of these is allowed because an existing service may need it, never silently.
 */
export function configWarnings(config: GatehouseConfig): string[] {
  const warnings: string[] = [];
  config.auth.issuers.forEach((issuer, i) => {
    const at = `auth.issuers[${i}] (${issuer.issuer})`;
    if (issuer.hmacSecret !== null) {
      warnings.push(
        `warning: ${at} verifies ${issuer.algorithms.join(', ')} with a shared secret: whoever holds it, ` +
          'the service that signs the tokens included, can forge a token for any user and scope; ' +
          'prefer an asymmetric issuer (ES256 and a JWKS) when the service can sign that way',
      );
    }
    if (issuer.allowMissing.iss) {
      warnings.push(
        `warning: ${at} accepts tokens without iss: they are checked with this issuer's key, and ` +
          'nothing in them says who issued them',
      );
    }
    if (issuer.allowMissing.aud) {
      warnings.push(
        `warning: ${at} accepts tokens without aud: a token the issuer made for another service ` +
          'is accepted here too, if it is signed with the same key',
      );
    }
  });
  config.apis.forEach((api, i) => {
    if (api.upstream.tls !== null) return;
    const where = api.upstream.socketPath === null ? 'a loopback address' : 'a Unix socket';
    warnings.push(
      `warning: apis[${i}].upstream (${api.name}) is plain http:// to ${where}: requests, credentials ` +
        'and answers cross it unencrypted, and any process on this host that takes the port or socket ' +
        'receives them; keep Gatehouse and the service alone on the host (the sidecar pattern)',
    );
  });
  const { publishAheadSec } = config.auth.signingKeyRotation;
  if (config.auth.signingKeys.length === 0 && publishAheadSec <= JWKS_MAX_AGE_SEC) {
    warnings.push(
      `warning: auth.signingKeyRotation.publishAheadSec (${publishAheadSec}) is not longer than the ` +
        `JWKS's max-age (${JWKS_MAX_AGE_SEC} s): a client that cached the JWKS may meet a token of a new ` +
        'key before it has the key; keep it above that (default 90)',
    );
  }
  return warnings;
}

/** The Cache-Control max-age of the gateway's JWKS (src/auth/oauth/builtin-api.ts). */
const JWKS_MAX_AGE_SEC = 60;
