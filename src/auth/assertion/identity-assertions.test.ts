import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePrincipal } from '../testing.js';
import { loadSigningKeyRing, type SigningKeyRing } from '../signing/signing-keys.js';
import { IdentityAssertions } from './identity-assertions.js';
import { createIdentityVerifier, IdentityRefused } from './verify-identity.js';

const principal = examplePrincipal;

describe('identity assertions', () => {
  let dir: string;
  let ring: SigningKeyRing;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-assert-'));
    ring = await loadSigningKeyRing([], dir, {
      longestLifetimeSec: 300,
      publishAheadSec: 90,
      retireMarginSec: 60,
    });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const config = { enabled: true, header: 'Gatehouse-Identity', lifetimeSec: 60, reuseSec: 30 };
  const verifier = (audience = 'bank') =>
    createIdentityVerifier({ keys: ring.jwks as never, issuer: 'urn:gatehouse', audience });

  it('signs an ES256 assertion the published verifier accepts, for that upstream only', async () => {
    const assertions = new IdentityAssertions(config, 'urn:gatehouse', ring);
    const [name, token] = assertions.headerFor(principal(), 'bank', 'req-1', Date.now());
    expect(name).toBe('gatehouse-identity');
    expect(decodeProtectedHeader(token!)).toEqual({
      alg: 'ES256',
      typ: 'gatehouse-identity+jwt',
      kid: ring.active.kid,
    });
    const identity = await verifier().verify(token);
    expect(identity).toMatchObject({
      subject: 'alice',
      consumer: 'mobile-app',
      scopes: ['accounts:read', 'transfers:write'],
      roles: ['customer'],
      credential: { kind: 'api-key', id: '0123456789abcdef', issuer: null },
    });
    const claims = decodeJwt(token!);
    expect(claims.exp! - claims.iat!).toBe(60);
    await expect(verifier('catalog').verify(token)).rejects.toMatchObject({ code: 'audience' });
    await expect(verifier().verify(undefined)).rejects.toMatchObject({ code: 'missing' });
    await expect(verifier().verify(['a', 'b'])).rejects.toBeInstanceOf(IdentityRefused);
  });

  it('reuses an assertion per principal and upstream for reuseSec, then signs a new one', () => {
    const assertions = new IdentityAssertions(config, 'urn:gatehouse', ring);
    const caller = principal();
    const t0 = Date.now();
    const first = assertions.headerFor(caller, 'bank', 'r1', t0);
    expect(assertions.headerFor(caller, 'bank', 'r2', t0 + 29_000)).toBe(first);
    expect(assertions.headerFor(caller, 'catalog', 'r3', t0)).not.toBe(first);
    expect(assertions.headerFor(principal(), 'bank', 'r4', t0)).not.toBe(first);
    const later = assertions.headerFor(caller, 'bank', 'r5', t0 + 30_000);
    expect(later).not.toBe(first);
    expect(decodeJwt(later[1]!).jti).not.toBe(decodeJwt(first[1]!).jti);
  });

  it('with reuseSec 0, signs one per request and names the request in jti', () => {
    const assertions = new IdentityAssertions({ ...config, reuseSec: 0 }, 'urn:gatehouse', ring);
    const [, token] = assertions.headerFor(principal(), 'bank', 'request-id-7', Date.now());
    expect(decodeJwt(token!).jti).toBe('request-id-7');
  });

  it('never outlives the credential it vouches for', () => {
    const assertions = new IdentityAssertions(config, 'urn:gatehouse', ring);
    const now = Date.now();
    const keyEnds = Math.floor(now / 1000) + 10;
    const [, token] = assertions.headerFor(principal(keyEnds), 'bank', 'r', now);
    expect(decodeJwt(token!).exp).toBe(keyEnds);
  });

  it('refuses assertions that are forged, of another type, too long-lived or expired', async () => {
    const sign = (
      claims: Record<string, unknown>,
      typ = 'gatehouse-identity+jwt',
      key = ring.active.privateKey,
    ) =>
      new SignJWT({ sub: 'alice', consumer: 'x', cred: { kind: 'jwt', id: 'j' }, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ, kid: ring.active.kid })
        .setIssuer('urn:gatehouse')
        .setAudience('bank')
        .setJti('a')
        .sign(key);
    const now = Math.floor(Date.now() / 1000);
    const other = await loadSigningKeyRing([], path.join(dir, 'other'), {
      longestLifetimeSec: 300,
      publishAheadSec: 90,
      retireMarginSec: 60,
    });
    await expect(
      verifier().verify(await sign({ iat: now, exp: now + 30 }, undefined, other.active.privateKey)),
    ).rejects.toMatchObject({ code: 'invalid' });
    await expect(verifier().verify(await sign({ iat: now, exp: now + 30 }, 'at+jwt'))).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(verifier().verify(await sign({ iat: now, exp: now + 3600 }))).rejects.toMatchObject({
      code: 'lifetime',
    });
    await expect(verifier().verify(await sign({ iat: now - 120, exp: now - 60 }))).rejects.toMatchObject({
      code: 'expired',
    });
    expect(await verifier().verify(await sign({ iat: now, exp: now + 30 }))).toMatchObject({
      subject: 'alice',
    });
  });

  it('accepts the gateway key as PEM too', async () => {
    const pem = ring.active.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const assertions = new IdentityAssertions(config, 'urn:gatehouse', ring);
    const [, token] = assertions.headerFor(principal(), 'bank', 'r', Date.now());
    const fromPem = createIdentityVerifier({ keys: [pem], issuer: 'urn:gatehouse', audience: 'bank' });
    expect((await fromPem.verify(token)).subject).toBe('alice');
  });
});
