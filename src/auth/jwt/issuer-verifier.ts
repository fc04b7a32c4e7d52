import { jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { JwtIssuerConfig } from '../../config/types.js';
import type { ClaimMapping } from './claims.js';
import { jwksFromKeyFile } from './public-jwks.js';
import { RemoteJwks } from './remote-jwks.js';
import { staticKeyResolver } from './static-keys.js';

/** One trusted issuer: its keys, its verification options, how its claims map to a principal. */
export interface IssuerVerifier {
  readonly issuer: string;
  readonly algorithms: ReadonlySet<string>;
  readonly mapping: ClaimMapping;
  /** Verifies signature and claims with jose; throws jose's errors (or KeySetUnavailable). */
  verify(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

/** exp is always required: a token without one would never expire, nor leave the cache. */
const ALWAYS_REQUIRED = ['exp', 'sub'];

export function createIssuerVerifier(config: JwtIssuerConfig): IssuerVerifier {
  const remote =
    config.jwks === null
      ? null
      : new RemoteJwks({
          url: config.jwks.url,
          ca: config.jwks.ca,
          timeoutMs: config.jwks.timeoutMs,
          cooldownMs: config.jwks.cooldownSec * 1000,
          maxAgeMs: config.jwks.maxAgeSec * 1000,
        });
  remote?.prefetch();
  const resolveKey = remote?.resolveKey ?? staticKeyResolver(config.keys.flatMap(jwksFromKeyFile));
  return issuerVerifier(config.issuer, resolveKey, verifyOptions(config), config, () => remote?.close());
}

/** For an issuer whose keys are in hand (the gateway's own): no fetching, an exact `typ`. */
export function createLocalIssuerVerifier(
  issuer: string,
  audience: string,
  resolveKey: JWTVerifyGetKey,
  typ: string,
): IssuerVerifier {
  const mapping: ClaimMapping = { scopeClaim: 'scope', rolesClaim: 'roles', consumerClaim: 'client_id' };
  const options: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms: ['ES256'],
    typ,
    clockTolerance: 5,
    requiredClaims: [...ALWAYS_REQUIRED, 'jti'],
  };
  return issuerVerifier(issuer, resolveKey, options, { algorithms: ['ES256'], ...mapping }, () => undefined);
}

function verifyOptions(config: JwtIssuerConfig): JWTVerifyOptions {
  return {
    issuer: config.issuer,
    audience: [...config.audiences],
    algorithms: [...config.algorithms],
    clockTolerance: config.clockSkewSec,
    requiredClaims: [...new Set([...ALWAYS_REQUIRED, ...config.requiredClaims])],
  };
}

function issuerVerifier(
  issuer: string,
  resolveKey: JWTVerifyGetKey,
  options: JWTVerifyOptions,
  settings: ClaimMapping & { readonly algorithms: readonly string[] },
  close: () => Promise<void> | undefined,
): IssuerVerifier {
  return {
    issuer,
    algorithms: new Set(settings.algorithms),
    mapping: {
      scopeClaim: settings.scopeClaim,
      rolesClaim: settings.rolesClaim,
      consumerClaim: settings.consumerClaim,
    },
    async verify(token: string): Promise<JWTPayload> {
      const { payload } = await jwtVerify(token, resolveKey, options);
      return payload;
    },
    async close(): Promise<void> {
      await close();
    },
  };
}
