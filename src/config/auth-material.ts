import { createHash, createPrivateKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { privateKeyProblem } from './pem.js';
import { isRecord, recordsIn, stringIn, type RawRecord } from './raw.js';
import type { AuthEntry } from './schema.js';
import { readSecretRef } from './secrets.js';
import { readOptionalCertificates } from './tls-material.js';
import type { AuthConfig, JwtIssuerConfig, OAuthClientConfig } from './types.js';
import { jwksFromKeyFile } from './public-jwks.js';

/** The files and secrets the `auth` section names, read and checked; keyed by list index. */
export interface AuthMaterial {
  readonly issuerKeys: ReadonlyMap<number, readonly string[]>;
  readonly jwksCa: ReadonlyMap<number, string>;
  readonly issuerSecrets: ReadonlyMap<number, KeyObject>;
  readonly signingKeys: readonly string[];
  readonly clientSecretHashes: ReadonlyMap<number, string>;
}

/** High-entropy secrets only: a SHA-256 of one is as good as a password hash, and cheaper. */
const MIN_CLIENT_SECRET_CHARS = 32;

/** Which key types can verify which algorithms (RFC 7518 §3.1, RFC 8037 §3.1). */
const KEY_TYPE_OF_ALGORITHM: Readonly<Record<string, string>> = {
  ES256: 'EC',
  ES384: 'EC',
  ES512: 'EC',
  RS256: 'RSA',
  RS384: 'RSA',
  RS512: 'RSA',
  PS256: 'RSA',
  PS384: 'RSA',
  PS512: 'RSA',
  EdDSA: 'OKP',
  Ed25519: 'OKP',
};

/**
 * Reads every key file, CA bundle and secret of the `auth` section and checks what a schema
 * cannot: one key source per issuer, https-only JWKS URLs, unique issuers and client ids, keys
 * that fit the algorithms, P-256 signing keys, long client secrets. Issues never quote a secret.
 */
export async function loadAuthMaterial(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<AuthMaterial> {
  const auth = isRecord(data) && isRecord(data.auth) ? data.auth : {};
  const issuerKeys = new Map<number, string[]>();
  const jwksCa = new Map<number, string>();
  const issuerSecrets = new Map<number, KeyObject>();
  const seenIssuers = new Map<string, number>();
  const withoutIss: number[] = [];
  for (const [issuer, i] of recordsIn(auth, 'issuers')) {
    const at = ['auth', 'issuers', i];
    checkIssuerName(issuer, auth, at, seenIssuers, i, issues);
    checkMissingClaims(issuer, at, withoutIss, i, issues);
    if (isHmacIssuer(issuer)) {
      const secret = await readIssuerSecret(issuer, at, ctx, issues);
      if (secret !== null) issuerSecrets.set(i, secret);
      continue;
    }
    checkKeySource(issuer, at, issues);
    const keys = await readIssuerKeys(issuer, at, ctx, issues);
    if (keys !== null) issuerKeys.set(i, keys);
    const ca = await readOptionalCertificates(issuer, [...at, 'jwksCa'], ctx, issues);
    if (typeof ca === 'string') jwksCa.set(i, ca);
  }
  const signingKeys = await readSigningKeys(auth, ctx, issues);
  const clientSecretHashes = await readClientSecrets(auth, ctx, issues);
  checkIdentity(auth, issues);
  return { issuerKeys, jwksCa, issuerSecrets, signingKeys, clientSecretHashes };
}

function checkIssuerName(
  issuer: RawRecord,
  auth: RawRecord,
  at: ConfigPath,
  seen: Map<string, number>,
  i: number,
  issues: IssueList,
): void {
  const name = stringIn(issuer, 'issuer');
  if (name === undefined) return;
  const first = seen.get(name);
  if (first !== undefined) {
    issues.add([...at, 'issuer'], `is already the issuer of auth.issuers[${first}]`, 'list each issuer once');
  } else seen.set(name, i);
  if (name === (stringIn(auth, 'issuer') ?? 'urn:gatehouse')) {
    issues.add(
      [...at, 'issuer'],
      "is the gateway's own issuer (auth.issuer)",
      'the gateway accepts its own tokens already; give this issuer another name',
    );
  }
}

/**
 * A token names no issuer to pick its verifier by when it has no `iss`: only one issuer may take
 * such tokens. Without `aud`, a token meant for another service would be taken for this one, so an
 * audience is required unless the issuer says its tokens carry none.
 */
function checkMissingClaims(
  issuer: RawRecord,
  at: ConfigPath,
  withoutIss: number[],
  i: number,
  issues: IssueList,
): void {
  const missing = Array.isArray(issuer.allowMissingClaims) ? (issuer.allowMissingClaims as unknown[]) : [];
  if (missing.includes('iss')) {
    const [first] = withoutIss;
    if (first !== undefined) {
      issues.add(
        [...at, 'allowMissingClaims'],
        `lets tokens without iss through, as auth.issuers[${first}] does`,
        'a token without iss names no issuer: let only one issuer accept such tokens',
      );
    }
    withoutIss.push(i);
  }
  if (issuer.audience === undefined && !missing.includes('aud')) {
    issues.add(
      [...at, 'audience'],
      'is missing',
      "give the aud value this issuer's tokens carry for this gateway, or allowMissingClaims: [aud] if they carry none",
    );
  }
}

const HMAC_ALGORITHMS: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

function isHmacIssuer(issuer: RawRecord): boolean {
  const algorithms = Array.isArray(issuer.algorithms) ? (issuer.algorithms as unknown[]) : [];
  return issuer.secret !== undefined || algorithms.some((alg) => String(alg) in HMAC_ALGORITHMS);
}

/**
 * An HMAC issuer verifies with one shared secret and nothing else: asymmetric algorithms, a JWKS
 * URL or public keys beside it would let a token choose how it is checked (algorithm confusion).
 * The secret is at least as long as the hash (RFC 7518 §3.2), and never shorter than 32 bytes.
 */
async function readIssuerSecret(
  issuer: RawRecord,
  at: ConfigPath,
  ctx: LoadContext,
  issues: IssueList,
): Promise<KeyObject | null> {
  const algorithms = Array.isArray(issuer.algorithms) ? (issuer.algorithms as unknown[]).map(String) : [];
  const asymmetric = algorithms.filter((alg) => !(alg in HMAC_ALGORITHMS));
  const mixed = asymmetric.length > 0 && asymmetric.length < algorithms.length;
  if (asymmetric.length > 0 || issuer.jwksUrl !== undefined || issuer.keys !== undefined) {
    issues.add(
      at,
      mixed
        ? `mixes HMAC and asymmetric algorithms (${algorithms.join(', ')})`
        : asymmetric.length > 0
          ? `has an HMAC secret, but its algorithms (${algorithms.join(', ')}) verify with public keys`
          : 'has an HMAC secret and public keys (jwksUrl or keys)',
      'an issuer is either HMAC (algorithms: [HS256] and secret) or asymmetric (ES256… and jwksUrl or keys), never both: declare two issuers if a service uses both',
    );
    return null;
  }
  const ref = stringIn(issuer, 'secret');
  if (ref === undefined) {
    issues.add(
      [...at, 'secret'],
      `is missing: ${algorithms.join(', ')} ${algorithms.length > 1 ? 'verify' : 'verifies'} with a shared secret`,
      'give the secret the issuer signs with as secret: env:NAME or file:PATH',
    );
    return null;
  }
  const read = await readSecretRef(ref, ctx);
  if ('message' in read) {
    issues.add([...at, 'secret'], read.message, read.hint);
    return null;
  }
  if (read.secret.includes('\uFFFD')) {
    issues.add(
      [...at, 'secret'],
      `${read.source} is not UTF-8 text`,
      'give the secret as the text the issuer signs with (as it appears in its own configuration)',
    );
    return null;
  }
  // A file written by an editor or `echo` ends with a line break the signer never used.
  const bytes = Buffer.from(
    ref.startsWith('file:') ? read.secret.replace(/\r?\n$/, '') : read.secret,
    'utf8',
  );
  const needed = Math.max(32, ...algorithms.map((alg) => HMAC_ALGORITHMS[alg] ?? 0));
  if (bytes.length < needed) {
    issues.add(
      [...at, 'secret'],
      `${read.source} holds ${bytes.length} bytes, fewer than the ${needed} ${algorithms.join(', ')} needs`,
      `make the issuer sign with a random secret of at least ${needed} bytes, e.g. openssl rand -base64 ${needed}, and give the same to Gatehouse`,
    );
    return null;
  }
  return createSecretKey(bytes);
}

function checkKeySource(issuer: RawRecord, at: ConfigPath, issues: IssueList): void {
  const url = stringIn(issuer, 'jwksUrl');
  const hasKeys = issuer.keys !== undefined;
  if ((url === undefined) === !hasKeys) {
    issues.add(
      at,
      url === undefined ? 'has neither jwksUrl nor keys' : 'has both jwksUrl and keys',
      "give the issuer's JWKS endpoint (jwksUrl: https://…) or its public keys (keys: [file:./issuer.pem]), one of the two",
    );
  }
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    issues.add([...at, 'jwksUrl'], 'is not an absolute URL', 'write an https:// URL');
    return;
  }
  if (parsed.protocol !== 'https:') {
    issues.add(
      [...at, 'jwksUrl'],
      `uses ${parsed.protocol}// instead of https://`,
      'keys fetched in clear could be replaced on the way: serve the JWKS over https',
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    issues.add([...at, 'jwksUrl'], 'contains a user name or password', 'remove the user:password@ part');
  }
}

async function readIssuerKeys(
  issuer: RawRecord,
  at: ConfigPath,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string[] | null> {
  if (!Array.isArray(issuer.keys)) return null;
  const algorithms = Array.isArray(issuer.algorithms) ? (issuer.algorithms as unknown[]) : [];
  const wantedTypes = new Set(algorithms.map((alg) => KEY_TYPE_OF_ALGORITHM[String(alg)]));
  const texts: string[] = [];
  for (const [index, ref] of (issuer.keys as unknown[]).entries()) {
    if (typeof ref !== 'string' || ref === '') continue; // the schema reported it
    const keyAt = [...at, 'keys', index];
    const read = await readSecretRef(ref, ctx);
    if ('message' in read) {
      issues.add(keyAt, read.message, read.hint);
      continue;
    }
    try {
      const jwks = jwksFromKeyFile(read.secret);
      if (algorithms.length > 0 && !jwks.some((jwk) => wantedTypes.has(String(jwk.kty)))) {
        issues.add(
          keyAt,
          `${read.source} holds no key that can verify ${algorithms.join(', ')}`,
          'give the key the issuer signs with, or list the algorithm it uses',
        );
      }
      texts.push(read.secret);
    } catch (err) {
      issues.add(
        keyAt,
        `${read.source} ${(err as Error).message}`,
        'give a PEM public key, a certificate, a JWK or a JWK Set',
      );
    }
  }
  return texts;
}

async function readSigningKeys(auth: RawRecord, ctx: LoadContext, issues: IssueList): Promise<string[]> {
  if (!Array.isArray(auth.signingKeys)) return [];
  const keys: string[] = [];
  for (const [index, ref] of (auth.signingKeys as unknown[]).entries()) {
    if (typeof ref !== 'string' || ref === '') continue;
    const at = ['auth', 'signingKeys', index];
    const read = await readSecretRef(ref, ctx);
    if ('message' in read) {
      issues.add(at, read.message, read.hint);
      continue;
    }
    const problem = privateKeyProblem(read.secret);
    if (problem !== null) {
      issues.add(at, `${read.source} ${problem.message}`, problem.hint);
      continue;
    }
    if (createPrivateKey(read.secret).asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      issues.add(
        at,
        `${read.source} is not a P-256 (ES256) key`,
        'make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signing.pem',
      );
      continue;
    }
    keys.push(read.secret);
  }
  return keys;
}

async function readClientSecrets(
  auth: RawRecord,
  ctx: LoadContext,
  issues: IssueList,
): Promise<Map<number, string>> {
  const endpoint = isRecord(auth.tokenEndpoint) ? auth.tokenEndpoint : {};
  const hashes = new Map<number, string>();
  const ids = new Map<string, number>();
  for (const [client, i] of recordsIn(endpoint, 'clients')) {
    const at = ['auth', 'tokenEndpoint', 'clients', i];
    const id = stringIn(client, 'id');
    if (id !== undefined && ids.has(id)) {
      issues.add(
        [...at, 'id'],
        `is already the id of clients[${ids.get(id)}]`,
        'give each client its own id',
      );
    } else if (id !== undefined) ids.set(id, i);
    const ref = stringIn(client, 'secret');
    if (ref === undefined || ref === '') continue;
    const read = await readSecretRef(ref, ctx);
    if ('message' in read) {
      issues.add([...at, 'secret'], read.message, read.hint);
      continue;
    }
    const secret = read.secret.trim();
    if (secret.length < MIN_CLIENT_SECRET_CHARS) {
      issues.add(
        [...at, 'secret'],
        `${read.source} holds a secret shorter than ${MIN_CLIENT_SECRET_CHARS} characters`,
        'use a random secret of at least 32 characters, e.g. openssl rand -base64 32',
      );
      continue;
    }
    hashes.set(i, createHash('sha256').update(secret).digest('hex'));
  }
  return hashes;
}

function checkIdentity(auth: RawRecord, issues: IssueList): void {
  const identity = isRecord(auth.identity) ? auth.identity : {};
  const lifetime = identity.lifetimeSec ?? 60;
  const reuse = identity.reuseSec ?? 30;
  if (typeof lifetime === 'number' && typeof reuse === 'number' && reuse >= lifetime) {
    issues.add(
      ['auth', 'identity', 'reuseSec'],
      `(${reuse}) is not shorter than lifetimeSec (${lifetime})`,
      'an upstream must receive an assertion with time left: make reuseSec at most half of lifetimeSec',
    );
  }
}

/** The `auth` section of the final configuration, from a file that passed every check. */
export function buildAuthConfig(entry: AuthEntry, material: AuthMaterial): AuthConfig {
  return {
    realm: entry.realm,
    maxTokenBytes: entry.maxTokenBytes,
    verifiedTokenCacheSize: entry.verifiedTokenCacheSize,
    issuer: entry.issuer,
    signingKeys: material.signingKeys,
    signingKeyRotation: { ...entry.signingKeyRotation },
    issuers: entry.issuers.map((issuer, i): JwtIssuerConfig => ({
      issuer: issuer.issuer,
      audiences: audiencesOf(issuer.audience),
      algorithms: [...issuer.algorithms],
      hmacSecret: material.issuerSecrets.get(i) ?? null,
      allowMissing: {
        iss: issuer.allowMissingClaims.includes('iss'),
        aud: issuer.allowMissingClaims.includes('aud'),
      },
      jwks:
        issuer.jwksUrl === undefined
          ? null
          : {
              url: issuer.jwksUrl,
              ca: material.jwksCa.get(i) ?? null,
              timeoutMs: issuer.jwksTimeoutMs,
              cooldownSec: issuer.jwksCooldownSec,
              maxAgeSec: issuer.jwksMaxAgeSec,
            },
      keys: material.issuerKeys.get(i) ?? [],
      requiredClaims: [...issuer.requiredClaims],
      clockSkewSec: issuer.clockSkewSec,
      scopeClaim: issuer.scopeClaim,
      rolesClaim: issuer.rolesClaim,
      consumerClaim: issuer.consumerClaim,
    })),
    tokenEndpoint: {
      enabled: entry.tokenEndpoint.enabled,
      basePath: entry.tokenEndpoint.basePath,
      audience: entry.tokenEndpoint.audience,
      lifetimeSec: entry.tokenEndpoint.lifetimeSec,
      apiKeyHeader: entry.tokenEndpoint.apiKeyHeader,
      clients: entry.tokenEndpoint.clients.map((client, i): OAuthClientConfig => ({
        id: client.id,
        consumer: client.consumer ?? client.id,
        scopes: [...client.scopes],
        secretSha256: material.clientSecretHashes.get(i) ?? '',
      })),
    },
    identity: { ...entry.identity },
  };
}

function audiencesOf(audience: string | readonly string[] | undefined): string[] {
  if (audience === undefined) return [];
  return typeof audience === 'string' ? [audience] : [...audience];
}
