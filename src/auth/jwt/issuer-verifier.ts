import type { KeyObject } from 'node:crypto';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { JwtIssuerConfig } from '../../config/types.js';
import type { ClaimMapping } from './claims.js';
import { jwksFromKeyFile } from '../../config/public-jwks.js';
import { RemoteJwks } from './remote-jwks.js';
import { staticKeyResolver } from './static-keys.js';

/** One trusted issuer: its keys, its verification options, how its claims map to a principal. */
export interface IssuerVerifier {
  readonly issuer: string;
  readonly algorithms: ReadonlySet<string>;
  readonly mapping: ClaimMapping;
  /** True for the one issuer (at most) whose tokens may carry no `iss`. */
  readonly takesTokensWithoutIss: boolean;
  /**
   * The claim naming the API key a token was minted from, checked on every use (minting-key.ts):
   * the gateway's own issuer only. null for other issuers, whose claims of any name mean nothing
   * to the key index.
   */
  readonly mintingKeyClaim: string | null;
  /**
   * Verifies signature and claims with jose; throws jose's errors (or KeySetUnavailable).
   * `claims` is the unverified payload, read only to tell which optional claims are absent.
   */
  verify(token: string, claims: JWTPayload): Promise<JWTPayload>;
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
  const resolveKey = keyOf(config, remote);
  const options = verifyOptions(config);
  return {
    ...issuerVerifier(config.issuer, resolveKey, options, config, () => remote?.close()),
    takesTokensWithoutIss: config.allowMissing.iss,
    verify: verifyAllowingMissing(resolveKey, options, config.allowMissing),
  };
}

function keyOf(config: JwtIssuerConfig, remote: RemoteJwks | null): JWTVerifyGetKey | KeyObject {
  if (config.hmacSecret !== null) return config.hmacSecret;
  return remote?.resolveKey ?? staticKeyResolver(config.keys.flatMap(jwksFromKeyFile));
}

/**
 * jose requires `iss` and `aud` whenever it is told their values. For an issuer that said its tokens
 * may leave one out, a token that does is checked without it; a token that carries one is still
 * held to the configured value, and one carrying an `aud` where none is configured is refused.
 */
function verifyAllowingMissing(
  key: JWTVerifyGetKey | KeyObject,
  options: JWTVerifyOptions,
  allowMissing: JwtIssuerConfig['allowMissing'],
): IssuerVerifier['verify'] {
  const withoutIss = withoutClaim(options, 'issuer', 'iss');
  const withoutAud = withoutClaim(options, 'audience', 'aud');
  const withoutBoth = withoutClaim(withoutIss, 'audience', 'aud');
  return async function verify(token, claims) {
    const noIss = allowMissing.iss && claims.iss === undefined;
    const noAud = allowMissing.aud && claims.aud === undefined;
    const chosen = noIss ? (noAud ? withoutBoth : withoutIss) : noAud ? withoutAud : options;
    const { payload } = await verifyWith(token, key, chosen);
    return payload;
  };
}

function withoutClaim(
  options: JWTVerifyOptions,
  option: 'issuer' | 'audience',
  claim: string,
): JWTVerifyOptions {
  const rest: JWTVerifyOptions = { ...options };
  delete rest[option];
  return { ...rest, requiredClaims: (options.requiredClaims ?? []).filter((name) => name !== claim) };
}

function verifyWith(token: string, key: JWTVerifyGetKey | KeyObject, options: JWTVerifyOptions) {
  return typeof key === 'function' ? jwtVerify(token, key, options) : jwtVerify(token, key, options);
}

/**
 * For an issuer whose keys are in hand (the gateway's own): no fetching, an exact `typ`, and the
 * claim its tokens name their minting API key in.
 */
export function createLocalIssuerVerifier(
  issuer: string,
  audience: string,
  resolveKey: JWTVerifyGetKey,
  typ: string,
  mintingKeyClaim: string,
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
  return {
    ...issuerVerifier(issuer, resolveKey, options, { algorithms: ['ES256'], ...mapping }, () => undefined),
    mintingKeyClaim,
  };
}

function verifyOptions(config: JwtIssuerConfig): JWTVerifyOptions {
  return {
    issuer: config.issuer,
    // No audience configured (allowMissing.aud): a token naming any audience is meant for another.
    audience: config.audiences.length > 0 ? [...config.audiences] : [],
    algorithms: [...config.algorithms],
    clockTolerance: config.clockSkewSec,
    requiredClaims: [...new Set([...ALWAYS_REQUIRED, ...config.requiredClaims])],
  };
}

function issuerVerifier(
  issuer: string,
  resolveKey: JWTVerifyGetKey | KeyObject,
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
    takesTokensWithoutIss: false,
    mintingKeyClaim: null,
    async verify(token: string): Promise<JWTPayload> {
      const { payload } = await verifyWith(token, resolveKey, options);
      return payload;
    },
    async close(): Promise<void> {
      await close();
    },
  };
}
