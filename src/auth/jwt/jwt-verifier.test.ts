import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeJwt, SignJWT, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, keyIdOf } from '../keys/key-format.js';
import type { StoredKey } from '../keys/record.js';
import { ApiKeyVerifier } from '../keys/verifier.js';
import { ACCESS_TOKEN_TYPE, TokenIssuer } from '../oauth/token-issuer.js';
import type { Principal } from '../principal.js';
import { loadSigningKeyRing, type SigningKeyRing } from '../signing/signing-keys.js';
import { createIssuerVerifier, createLocalIssuerVerifier, type IssuerVerifier } from './issuer-verifier.js';
import { JwtRefused, JwtVerifier } from './jwt-verifier.js';
import { MINTING_KEY_CLAIM, type MintingKeyStates } from './minting-key.js';

const ISSUER = 'urn:gatehouse';
const PARTNER = 'https://idp.partner.example';
const endpoint = {
  enabled: true,
  basePath: '/',
  audience: 'gatehouse',
  lifetimeSec: 300,
  apiKeyHeader: 'X-API-Key',
  clients: [],
};
const FORM = 'application/x-www-form-urlencoded';
const GRANT = Buffer.from('grant_type=client_credentials');

/** A key record as the store hands it to the index; `changes` override the active defaults. */
function storedKey(hash: Buffer, version: number, changes: Partial<StoredKey> = {}): StoredKey {
  return {
    id: keyIdOf(hash),
    hash,
    consumer: 'partner',
    scopes: ['r'],
    env: 'live',
    status: 'active',
    createdAt: 0,
    expiresAt: null,
    lastUsedAt: null,
    replacedBy: null,
    overlapUntil: null,
    updatedAt: 0,
    version,
    ...changes,
  };
}

function client(kind: 'api-key' | 'client-secret', id: string): Principal {
  return {
    subject: 'partner',
    consumer: 'partner',
    scopes: new Set(['r']),
    roles: [],
    credential: { kind, id, issuer: null },
    claims: {},
    expiresAt: null,
  };
}

/** The cause a call was refused with (JwtRefused's reason), or 'accepted'. */
async function outcome(call: () => unknown): Promise<string> {
  try {
    await call();
    return 'accepted';
  } catch (err) {
    if (err instanceof JwtRefused) return err.reason;
    throw err;
  }
}

describe('JwtVerifier: tokens minted from an API key follow the key (issue #19)', () => {
  let dir: string;
  let ring: SigningKeyRing;
  let issuer: TokenIssuer;
  let own: IssuerVerifier;
  let version = 0;
  let shiftMs = 0;
  const keys = new ApiKeyVerifier();
  /** A new key in the index; its id, and a token minted from it by the token endpoint. */
  const mint = (changes: Partial<StoredKey> = {}): { id: string; hash: Buffer; token: string } => {
    const hash = hashApiKey(generateApiKey('live'));
    keys.apply([storedKey(hash, (version += 1), changes)]);
    const id = keyIdOf(hash);
    return { id, hash, token: tokenFor(client('api-key', id)) };
  };
  const tokenFor = (principal: Principal): string => {
    const response = issuer.issue(principal, FORM, GRANT, Date.now());
    expect(response.status).toBe(200);
    return (JSON.parse(response.body) as { access_token: string }).access_token;
  };
  const verifier = (mintingKeys: MintingKeyStates | null = keys, issuers = [own]): JwtVerifier =>
    new JwtVerifier(issuers, {
      maxTokenBytes: 8192,
      cacheSize: 100,
      mintingKeys,
      clock: () => Date.now() + shiftMs,
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-jwt-verifier-'));
    ring = await loadSigningKeyRing([], dir, {
      longestLifetimeSec: 300,
      publishAheadSec: 90,
      retireMarginSec: 60,
    });
    issuer = new TokenIssuer(endpoint, ISSUER, ring);
    const ownKeys = createLocalJWKSet({ keys: [...ring.jwks.keys] });
    own = createLocalIssuerVerifier(ISSUER, 'gatehouse', ownKeys, ACCESS_TOKEN_TYPE, MINTING_KEY_CLAIM);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  afterEach(() => (shiftMs = 0));

  it('names the key in key_id, and accepts the token while the key is active, cached or not', async () => {
    const { id, token } = mint();
    expect(decodeJwt(token)[MINTING_KEY_CLAIM]).toBe(id);
    const jwt = verifier();
    const principal = await jwt.verify(token);
    expect(principal).toMatchObject({ subject: 'partner', credential: { kind: 'jwt', issuer: ISSUER } });
    expect(jwt.cached(token)).toBe(principal); // the same frozen principal: nothing built per use
  });

  it('refuses the cached token at its next use once the key is revoked', async () => {
    const { id, hash, token } = mint();
    const jwt = verifier();
    await jwt.verify(token);
    keys.apply([storedKey(hash, (version += 1), { status: 'revoked' })]);
    expect(await outcome(() => jwt.cached(token))).toBe(
      `jwt.key-revoked: the API key it was minted from is revoked (key ${id})`,
    );
  });

  it('refuses a token of a revoked key at first sight, and keeps it cached so a replay costs a lookup', async () => {
    const { hash, token } = mint();
    keys.apply([storedKey(hash, (version += 1), { status: 'revoked' })]);
    const jwt = verifier();
    expect(await outcome(() => jwt.verify(token))).toMatch(/^jwt\.key-revoked: /);
    expect(jwt.cacheSize).toBe(1);
    expect(await outcome(() => jwt.cached(token))).toMatch(/^jwt\.key-revoked: /);
  });

  it('refuses it once the key has expired, or its rotation overlap has ended', async () => {
    const now = Date.now();
    const expiring = mint({ expiresAt: now + 60_000 });
    const rotated = mint({ replacedBy: '0123456789abcdef', overlapUntil: now + 30_000 });
    const jwt = verifier();
    expect(await outcome(() => jwt.verify(expiring.token))).toBe('accepted');
    expect(await outcome(() => jwt.verify(rotated.token))).toBe('accepted');
    shiftMs = 30_000;
    expect(await outcome(() => jwt.cached(expiring.token))).toBe('accepted');
    expect(await outcome(() => jwt.cached(rotated.token))).toMatch(/^jwt\.key-expired: .*overlap/);
    shiftMs = 60_000;
    expect(await outcome(() => jwt.cached(expiring.token))).toMatch(/^jwt\.key-expired: /);
  });

  it('refuses a token whose key the index does not hold, or when there is no key index', async () => {
    const hash = hashApiKey(generateApiKey('live'));
    const stray = tokenFor(client('api-key', keyIdOf(hash)));
    expect(await outcome(() => verifier().verify(stray))).toBe(
      `jwt.key-unknown: the API key it was minted from is not in the key index (key ${keyIdOf(hash)})`,
    );
    const { token } = mint();
    expect(await outcome(() => verifier(null).verify(token))).toMatch(/^jwt\.key-unknown: /);
  });

  it('leaves a token minted for a client secret alone: it names no key', async () => {
    const token = tokenFor(client('client-secret', 'reporting'));
    expect(decodeJwt(token)).not.toHaveProperty(MINTING_KEY_CLAIM);
    const jwt = verifier(null);
    expect(await outcome(() => jwt.verify(token))).toBe('accepted');
    expect(await outcome(() => jwt.cached(token))).toBe('accepted');
  });

  it("never reads key_id in another issuer's tokens", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'p1', alg: 'ES256' };
    const partner = createIssuerVerifier({
      issuer: PARTNER,
      audiences: ['gatehouse'],
      algorithms: ['ES256'],
      hmacSecret: null,
      allowMissing: { iss: false, aud: false },
      jwks: null,
      keys: [JSON.stringify(jwk)],
      requiredClaims: [],
      clockSkewSec: 5,
      scopeClaim: 'scope',
      rolesClaim: 'roles',
      consumerClaim: 'client_id',
    });
    const { id, hash } = mint();
    keys.apply([storedKey(hash, (version += 1), { status: 'revoked' })]);
    const token = await new SignJWT({ [MINTING_KEY_CLAIM]: id, scope: 'r' })
      .setProtectedHeader({ alg: 'ES256', kid: 'p1' })
      .setIssuer(PARTNER)
      .setAudience('gatehouse')
      .setSubject('someone')
      .setExpirationTime('5m')
      .sign(privateKey);
    const jwt = verifier(keys, [own, partner]);
    expect(await outcome(() => jwt.verify(token))).toBe('accepted');
    expect(await outcome(() => jwt.cached(token))).toBe('accepted');
    await jwt.close();
  });
});
