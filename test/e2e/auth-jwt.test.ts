import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityVerifier } from '../../src/auth/assertion/verify-identity.js';
import { readLog, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import {
  b64url,
  expectProblem,
  issuerKey,
  journeyReason,
  now,
  signToken,
  sleep,
  startJwksServer,
  type IssuerKey,
  type JwksServer,
} from './auth-support.js';

const ISSUER = 'https://issuer-a.test';
const HANGING_ISSUER = 'https://issuer-hang.test';
const STATIC_ISSUER = 'https://issuer-static.test';
const AUDIENCE = 'gatehouse-test';

const openapi = `openapi: 3.1.0
info: { title: auth test, version: 1.0.0 }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: { 'items:read': read items, 'items:write': write items }
    apiKey: { type: apiKey, in: header, name: X-API-Key }
    queryKey: { type: apiKey, in: query, name: api_key }
security:
  - bearer: []
paths:
  /items/{id}:
    get:
      security: [ { oauth: ['items:read'] }, { apiKey: [] } ]
      x-gatehouse-scopes: ['items:read']
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
  /items/{id}/owner:
    get:
      x-gatehouse-require: { path.id: principal.sub }
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: 'the item, to its owner only' } }
  /items/{id}/audit:
    get:
      x-gatehouse-require: { roles: [auditor] }
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: 'the item, to auditors only' } }
  /echo:
    post:
      security: [ { oauth: ['items:write'] } ]
      requestBody: { content: { application/json: { schema: { type: object } } } }
      responses: { '200': { description: what the upstream received } }
  /stream:
    get:
      x-gatehouse-public: true
      responses: { '200': { description: public } }
  /slow:
    get:
      security: []
      responses: { '200': { description: 'never: no security and not marked public' } }
  /crash:
    get:
      security: [ { queryKey: [] } ]
      responses: { '200': { description: 'never: keys in the query string are refused' } }
`;

describe('bearer JWTs on real listeners', () => {
  let h: Harness;
  let jwks: JwksServer;
  let hangingJwks: JwksServer;
  let keyDir: string;
  const keyA = issuerKey('a-1');
  const keyB = issuerKey('a-2'); // published later: rotation
  const hangKey = issuerKey('hang-1');
  const staticKey = issuerKey('static-1');
  const attacker = issuerKey('a-1'); // same kid as a real key, different key
  const issued: string[] = [];

  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    scope: 'items:read items:write',
    iat: now(),
    exp: now() + 300,
    ...extra,
  });
  const token = async (key: IssuerKey = keyA, extra: Record<string, unknown> = {}, header = {}) => {
    const t = await signToken(key, claims(extra), header);
    issued.push(t);
    return t;
  };
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
  const postJson = (t: string) => ({
    method: 'POST',
    body: '{}',
    headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
  });
  const reasonOf = (response: HttpResponse): Promise<string> => journeyReason(h, response);

  /** 401, the generic problem, a Bearer challenge, the cause in the journey, upstream never reached. */
  async function expectRefused(t: string, cause: RegExp, route = '/items/1'): Promise<void> {
    const before = h.upstream.hits();
    const response = await h.get(route, bearer(t));
    expectProblem(response, 401, 'auth-unauthenticated');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="gatehouse"/);
    expect(await reasonOf(response)).toMatch(cause);
    expect(h.upstream.hits()).toBe(before);
  }

  beforeAll(async () => {
    jwks = await startJwksServer([keyA.jwk]);
    hangingJwks = await startJwksServer([hangKey.jwk]);
    hangingJwks.hang();
    keyDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-issuer-'));
    const staticPem = path.join(keyDir, 'static.pem');
    await writeFile(staticPem, staticKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    h = await startHarness({
      openapi,
      extraYaml: `preAuthLimit:
  failedAuth: { limit: 100000, window: 1m, burst: 100000 }
auth:
  tokenEndpoint: { enabled: true }
  issuers:
    - issuer: ${ISSUER}
      audience: ${AUDIENCE}
      algorithms: [ES256]
      jwksUrl: ${jwks.url}
      jwksCa: ${jwks.caPath}
      jwksCooldownSec: 1
      clockSkewSec: 1
    - issuer: ${HANGING_ISSUER}
      audience: ${AUDIENCE}
      algorithms: [ES256]
      jwksUrl: ${hangingJwks.url}
      jwksCa: ${hangingJwks.caPath}
      jwksTimeoutMs: 400
      jwksCooldownSec: 1
    - issuer: ${STATIC_ISSUER}
      audience: [other, ${AUDIENCE}]
      algorithms: [ES256]
      keys: [ 'file:${staticPem}' ]
`,
    });
  });
  afterAll(async () => {
    await h?.close();
    await jwks?.close();
    await hangingJwks?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('forwards a valid token, and the upstream gets a verifiable identity instead of the token', async () => {
    const t = await token();
    const response = await h.get('/echo', postJson(t));
    expect(response.status).toBe(200);
    const seen = (response.json() as { headers: Record<string, string> }).headers;
    expect(seen['authorization']).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(t);
    const gatewayJwks = (await h.get('/.well-known/jwks.json')).json() as { keys: [] };
    const identity = await createIdentityVerifier({
      keys: gatewayJwks,
      issuer: 'urn:gatehouse',
      audience: 'test',
    }).verify(seen['gatehouse-identity']);
    expect(identity).toMatchObject({
      subject: 'alice',
      consumer: 'alice',
      scopes: ['items:read', 'items:write'],
      credential: { kind: 'jwt', issuer: ISSUER },
    });
    expect(identity.expiresAt - now()).toBeLessThanOrEqual(60);
    // Another upstream cannot use it: the audience is this one.
    await expect(
      createIdentityVerifier({ keys: gatewayJwks, issuer: 'urn:gatehouse', audience: 'bank' }).verify(
        seen['gatehouse-identity'],
      ),
    ).rejects.toMatchObject({ code: 'audience' });
  });

  it('serves a token it has verified from the cache on the next requests', async () => {
    const t = await token();
    for (let i = 0; i < 3; i += 1) expect((await h.get('/items/7', bearer(t))).status).toBe(200);
    const journey = h.gateway.journeys.recent(1)[0]!;
    expect(journey.passed).toContain('authenticate');
  });

  it('refuses a request without a credential: 401 with challenges for every accepted scheme', async () => {
    const before = h.upstream.hits();
    const response = await h.get('/items/1');
    expectProblem(response, 401, 'auth-unauthenticated');
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="gatehouse", ApiKey realm="gatehouse", header="X-API-Key"',
    );
    expect(await reasonOf(response)).toMatch(/^credential\.missing/);
    expect(h.upstream.hits()).toBe(before);
  });

  it.each([
    ['Bearer', /credential\.scheme|jwt\.malformed/],
    ['Bearer ', /credential\.scheme/], // trailing whitespace is not part of a header value
    ['Token abc.def.ghi', /credential\.scheme/],
    ['Bearer  a.b.c', /jwt\.malformed/],
    ['Bearer a.b', /jwt\.malformed/],
    ['Bearer a.b.c.d.e', /jwt\.malformed/],
  ])('refuses the malformed Authorization header %j', async (value, cause) => {
    const before = h.upstream.hits();
    const response = await h.get('/items/1', { headers: { authorization: value } });
    expectProblem(response, 401, 'auth-unauthenticated');
    expect(await reasonOf(response)).toMatch(cause);
    expect(h.upstream.hits()).toBe(before);
  });

  it('refuses alg "none"', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`;
    await expectRefused(unsigned, /^jwt\.malformed: empty signature/);
    const withSignature = `${b64url({ alg: 'none' })}.${b64url(claims())}.${b64url('x')}`;
    await expectRefused(withSignature, /^jwt\.algorithm/);
  });

  it('refuses algorithm confusion: an HMAC keyed with the public key', async () => {
    const publicPem = keyA.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const secret of [publicPem, JSON.stringify(keyA.jwk)]) {
      const input = `${b64url({ alg: 'HS256', kid: keyA.kid })}.${b64url(claims())}`;
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await expectRefused(forged, /^jwt\.algorithm: "HS256" is not allowed/);
    }
  });

  it('refuses a token that brings its own key (jwk) or points at one (jku, x5u, x5c), fetching nothing', async () => {
    const lure = await startJwksServer([attacker.jwk]);
    try {
      await expectRefused(await token(attacker, {}, { jwk: attacker.jwk }), /^jwt\.header: "jwk"/);
      await expectRefused(await token(attacker, {}, { jku: lure.url }), /^jwt\.header: "jku"/);
      await expectRefused(await token(attacker, {}, { x5u: lure.url }), /^jwt\.header: "x5u"/);
      await expectRefused(await token(attacker, {}, { x5c: ['MIIB'] }), /^jwt\.header: "x5c"/);
      expect(lure.hits()).toBe(0);
    } finally {
      await lure.close();
    }
  });

  it('refuses a forged signature and a kid the issuer never published, refetching at most once per cooldown', async () => {
    await expectRefused(await token(attacker), /^jwt\.signature/);
    await sleep(1100); // past the cooldown of the fetch at start-up
    const before = jwks.hits();
    for (let i = 0; i < 5; i += 1) {
      await expectRefused(await token(attacker, {}, { kid: `unknown-${i}` }), /^jwt\.unknown-key/);
    }
    expect(jwks.hits() - before).toBe(1);
  });

  it('refuses tokens whose base64url is not strict and canonical, while the canonical one passes', async () => {
    const good = await token();
    expect((await h.get('/items/1', bearer(good))).status).toBe(200);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    // 64 signature bytes → 86 characters, the last carrying 4 unused bits: set one of them.
    const last = signature.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = alphabet[alphabet.indexOf(last) | 1]!;
    expect(sameBytes).not.toBe(last);
    await expectRefused(
      `${header}.${payload}.${signature.slice(0, -1)}${sameBytes}`,
      /non-zero trailing bits/,
    );
    await expectRefused(`${header}=.${payload}.${signature}`, /not strict base64url/);
    await expectRefused(
      `${header}.${payload.slice(0, 4)}+${payload.slice(5)}.${signature}`,
      /not strict base64url/,
    );
    await expectRefused(`${header}.${payload}.${signature}==`, /not strict base64url/);
  });

  it('refuses a token over the size bound before decoding it', async () => {
    const big = await token(keyA, { padding: 'x'.repeat(9000) });
    await expectRefused(big, /^jwt\.malformed: token of \d+ bytes is over the 8192-byte bound/);
  });

  it('refuses expired, not-yet-valid, wrong-audience and wrong-issuer tokens', async () => {
    await expectRefused(await token(keyA, { exp: now() - 60 }), /^jwt\.expired/);
    await expectRefused(await token(keyA, { nbf: now() + 120 }), /^jwt\.not-yet-valid/);
    await expectRefused(await token(keyA, { aud: 'someone-else' }), /^jwt\.audience/);
    await expectRefused(
      await token(keyA, { iss: 'https://evil.test' }),
      /^jwt\.issuer: "https:\/\/evil\.test" is not a configured issuer/,
    );
    // Signed by issuer A's key but claiming the static issuer: the static issuer's keys decide.
    await expectRefused(await token(keyA, { iss: STATIC_ISSUER }), /^jwt\.signature/);
    await expectRefused(await token(keyA, { sub: undefined }), /^jwt\.claims: required claim sub/);
    await expectRefused(await token(keyA, { exp: undefined }), /^jwt\.claims: required claim exp/);
  });

  it('never serves a cached token past its exp', async () => {
    const shortLived = await token(keyA, { exp: now() + 2 });
    expect((await h.get('/items/1', bearer(shortLived))).status).toBe(200);
    await sleep(3200); // exp passed, and the 1 s clock skew too
    await expectRefused(shortLived, /^jwt\.expired/);
  });

  it('accepts a static-key issuer with one of several audiences', async () => {
    const t = await token(staticKey, { iss: STATIC_ISSUER, aud: 'other' });
    expect((await h.get('/items/1', bearer(t))).status).toBe(200);
  });

  it('picks up a rotated key set on an unknown kid, without a restart', async () => {
    const rotated = await token(keyB);
    await sleep(1100);
    jwks.serve([keyB.jwk]); // the issuer rotates: a-1 retired, a-2 published
    expect((await h.get('/items/1', bearer(rotated))).status).toBe(200);
  });

  it('does not hang requests on a JWKS server that hangs: bounded wait, then 401', async () => {
    await sleep(1100); // past the cooldown of the failed fetch at start-up
    const t = await token(hangKey, { iss: HANGING_ISSUER });
    const other = await token(staticKey, { iss: STATIC_ISSUER });
    const started = Date.now();
    const [hung, fine] = await Promise.all([
      h.get('/items/1', bearer(t)),
      (async () => {
        await sleep(50);
        const response = await h.get('/items/2', bearer(other));
        return { response, ms: Date.now() - started };
      })(),
    ]);
    const elapsed = Date.now() - started;
    expectProblem(hung, 401, 'auth-unauthenticated');
    expect(await reasonOf(hung)).toMatch(/^jwt\.keys-unavailable: .*no answer within 400 ms/);
    expect(elapsed).toBeLessThan(2000);
    expect(fine.response.status).toBe(200);
    expect(fine.ms).toBeLessThan(400); // another issuer's request did not wait for the hung fetch
    // During the cooldown the next one is refused at once, without waiting again.
    const again = Date.now();
    expectProblem(await h.get('/items/1', bearer(t)), 401, 'auth-unauthenticated');
    expect(Date.now() - again).toBeLessThan(300);
  });

  it('answers 403 for a missing scope, with the RFC 6750 insufficient_scope challenge', async () => {
    const before = h.upstream.hits();
    const readOnly = await token(keyB, { scope: 'items:read' });
    const response = await h.get('/echo', postJson(readOnly));
    expectProblem(response, 403, 'auth-forbidden');
    expect(response.headers['www-authenticate']).toBe('Bearer realm="gatehouse", error="insufficient_scope"');
    expect(await reasonOf(response)).toBe('authorize.scope: missing scope items:write');
    expect(h.upstream.hits()).toBe(before);
    const noScope = await token(keyB, { scope: undefined });
    expectProblem(await h.get('/items/1', bearer(noScope)), 403, 'auth-forbidden');
    expect(h.upstream.hits()).toBe(before);
  });

  it('enforces x-gatehouse-require: path parameter equal to the subject, and roles', async () => {
    const before = h.upstream.hits();
    const alice = await token(keyB);
    expect((await h.get('/items/alice/owner', bearer(alice))).status).toBe(200);
    const other = await h.get('/items/bob/owner', bearer(alice));
    expectProblem(other, 403, 'auth-forbidden');
    expect(await reasonOf(other)).toBe('authorize.condition: path.id == principal.sub does not hold');
    const noRole = await h.get('/items/1/audit', bearer(alice));
    expectProblem(noRole, 403, 'auth-forbidden');
    expect(await reasonOf(noRole)).toMatch(/^authorize\.role/);
    const auditor = await token(keyB, { roles: ['auditor'] });
    expect((await h.get('/items/1/audit', bearer(auditor))).status).toBe(200);
    expect(h.upstream.hits()).toBe(before + 2);
  });

  it('denies by default an operation without security that is not marked public (403), and serves a public one', async () => {
    const before = h.upstream.hits();
    const denied = await h.get('/slow', bearer(await token(keyB)));
    expectProblem(denied, 403, 'auth-forbidden');
    expect(await reasonOf(denied)).toMatch(/^default deny/);
    expect(h.upstream.hits()).toBe(before);
    expect((await h.get('/stream')).status).toBe(200);
  });

  it('refuses credentials in the query string (401), even where a scheme says in: query', async () => {
    const before = h.upstream.hits();
    const key = 'gk_live_' + 'A'.repeat(32) + '_abcdef';
    for (const target of [
      `/crash?api_key=${key}`,
      `/items/1?q=${key}`,
      '/items/1?access_token=abc',
      '/stream?API%5FKEY=x',
    ]) {
      const response = await h.get(target, bearer(await token(keyB)));
      expectProblem(response, 401, 'auth-unauthenticated');
      expect(await reasonOf(response)).toMatch(/^credential\.query/);
    }
    expect(h.upstream.hits()).toBe(before);
  });

  it('drops an identity header a client sends, and does not take an identity assertion for an access token', async () => {
    const forged = await h.get('/echo', {
      method: 'POST',
      body: '{}',
      headers: {
        authorization: `Bearer ${await token(keyB)}`,
        'content-type': 'application/json',
        'gatehouse-identity': 'forged',
      },
    });
    const seen = (forged.json() as { headers: Record<string, string> }).headers;
    expect(seen['gatehouse-identity']).not.toBe('forged');
    // An upstream that replays the assertion it received at the gateway gets nowhere.
    await expectRefused(seen['gatehouse-identity']!, /^jwt\.(type|audience)/);
  });

  it('never writes a token to the log', async () => {
    await sleep(300);
    const log = await readLog(h);
    expect(log).toContain('"code":"GH_AUTH_UNAUTHENTICATED"');
    for (const t of issued) {
      expect(log).not.toContain(t);
      expect(log).not.toContain(t.split('.')[2]);
    }
  });
});
