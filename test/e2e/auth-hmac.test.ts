import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { b64url, expectProblem, issuerKey, journeyReason, now, signToken } from './auth-support.js';

/** A service that signs its own tokens with a shared secret and leaves out iss and aud. */
const LENIENT = 'notes';
/** One that names itself and its audience, as it should. */
const STRICT = 'https://login.strict.test';

const openapi = `openapi: 3.1.0
info: { title: hmac test, version: 1.0.0 }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
security:
  - bearer: []
paths:
  /items/{id}:
    get:
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        '200': { description: an item, content: { application/json: { schema: { type: object } } } }
  /items/{id}/of/{username}:
    get:
      x-gatehouse-require: { path.username: principal.sub }
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
        - { name: username, in: path, required: true, schema: { type: string } }
      responses:
        '200':
          description: 'the item, to its owner only'
          content: { application/json: { schema: { type: object } } }
`;

function hs(secret: Buffer, claims: Record<string, unknown>, alg = 'HS256'): string {
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

describe('bearer JWTs signed with a shared secret (HMAC issuers)', () => {
  let h: Harness;
  let dir: string;
  // As a service keeps them: text, here the base64url of random bytes.
  const lenientSecret = Buffer.from(randomBytes(32).toString('base64url'));
  const strictSecret = Buffer.from(randomBytes(48).toString('base64url'));
  const esKey = issuerKey('es-1');
  const alice = () => ({ sub: 'alice', iat: now(), exp: now() + 300 });
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  const reasonOf = (response: HttpResponse): Promise<string> => journeyReason(h, response);
  async function expectAccepted(t: string, route = '/items/1'): Promise<void> {
    const before = h.upstream.hits();
    expect((await h.get(route, bearer(t))).status).toBe(200);
    expect(h.upstream.hits()).toBe(before + 1);
  }
  async function expectRefused(t: string, cause: RegExp): Promise<void> {
    const before = h.upstream.hits();
    const response = await h.get('/items/1', bearer(t));
    expectProblem(response, 401, 'auth-unauthenticated');
    expect(await reasonOf(response)).toMatch(cause);
    expect(h.upstream.hits()).toBe(before);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-hmac-'));
    await writeFile(path.join(dir, 'lenient.secret'), lenientSecret);
    await writeFile(path.join(dir, 'strict.secret'), strictSecret);
    const esPem = path.join(dir, 'es.pem');
    await writeFile(esPem, esKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    h = await startHarness({
      openapi,
      extraYaml: `preAuthLimit:
  failedAuth: { limit: 100000, window: 1m, burst: 100000 }
auth:
  issuers:
    - { issuer: ${LENIENT}, algorithms: [HS256], secret: "file:${dir}/lenient.secret", allowMissingClaims: [iss, aud] }
    - { issuer: "${STRICT}", audience: gatehouse, algorithms: [HS384], secret: "file:${dir}/strict.secret" }
    - { issuer: es, audience: gatehouse, algorithms: [ES256], keys: ["file:${esPem}"] }
`,
    });
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a token without iss or aud from the issuer that allows it, then from the cache', async () => {
    const t = hs(lenientSecret, alice());
    await expectAccepted(t);
    await expectAccepted(t);
  });

  it('holds a token of that issuer that does name itself to its name', async () => {
    await expectAccepted(hs(lenientSecret, { ...alice(), iss: LENIENT }));
    await expectRefused(hs(lenientSecret, { ...alice(), iss: 'someone-else' }), /^jwt\.issuer/);
  });

  it('refuses an audience from an issuer configured without one: the token was made for another service', async () => {
    await expectRefused(hs(lenientSecret, { ...alice(), aud: 'billing' }), /^jwt\.claims|aud/);
  });

  it('refuses a token signed with another secret, an expired one, and one without exp', async () => {
    await expectRefused(hs(Buffer.from(randomBytes(32).toString('base64url')), alice()), /^jwt\.signature/);
    await expectRefused(hs(lenientSecret, { ...alice(), exp: now() - 3600 }), /^jwt\.expired/);
    const noExp: Record<string, unknown> = alice();
    delete noExp['exp'];
    await expectRefused(hs(lenientSecret, noExp), /^jwt\.claims: .*exp/);
  });

  it('checks iss and aud of a strict HMAC issuer, with its own algorithm only', async () => {
    const claims = { ...alice(), iss: STRICT, aud: 'gatehouse' };
    await expectAccepted(hs(strictSecret, claims, 'HS384'));
    const withoutAud: Record<string, unknown> = { ...claims };
    delete withoutAud['aud'];
    await expectRefused(hs(strictSecret, withoutAud, 'HS384'), /aud/);
    await expectRefused(hs(strictSecret, claims, 'HS256'), /^jwt\.algorithm: "HS256" is not allowed/);
    // Without iss it goes to the one issuer that takes such tokens, which has its own algorithm and secret.
    const withoutIss: Record<string, unknown> = { ...claims };
    delete withoutIss['iss'];
    await expectRefused(
      hs(strictSecret, withoutIss, 'HS384'),
      /^jwt\.algorithm: "HS384" is not allowed for notes/,
    );
    await expectRefused(hs(strictSecret, withoutIss), /^jwt\.signature/);
  });

  it('never checks an HMAC against a public key, nor a signature against a shared secret', async () => {
    const publicPem = esKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expectRefused(
      hs(Buffer.from(publicPem), { ...alice(), iss: 'es', aud: 'gatehouse' }),
      /^jwt\.algorithm: "HS256" is not allowed for es/,
    );
    const es = await signToken(esKey, { ...alice(), iss: LENIENT });
    await expectRefused(es, /^jwt\.algorithm: "ES256" is not allowed for notes/);
  });

  it('enforces a path owner condition with the subject of an HMAC token', async () => {
    const t = hs(lenientSecret, alice());
    await expectAccepted(t, '/items/1/of/alice');
    const before = h.upstream.hits();
    const response = await h.get('/items/1/of/bob', bearer(t));
    expectProblem(response, 403, 'auth-forbidden');
    expect(h.upstream.hits()).toBe(before);
  });
});

describe('credential passthrough to an upstream that checks the credential itself', () => {
  let h: Harness;
  let dir: string;
  const secret = Buffer.from(randomBytes(32).toString('base64url'));
  const passthrough = `openapi: 3.1.0
info: { title: passthrough test, version: 1.0.0 }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    apiKey: { type: apiKey, in: header, name: X-API-Key }
paths:
  /echo:
    post:
      security: [ { bearer: [] } ]
      requestBody: { content: { application/json: { schema: { type: object } } } }
      responses: { '200': { description: what the upstream received } }
`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-passthrough-'));
    await writeFile(path.join(dir, 'notes.secret'), secret);
    h = await startHarness({
      openapi: passthrough,
      api: { forwardCredentials: 'true' },
      extraYaml: `auth:
  issuers:
    - { issuer: notes, algorithms: [HS256], secret: "file:${dir}/notes.secret", allowMissingClaims: [iss, aud] }
`,
    });
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the verified token on, beside the identity assertion, and drops the credentials it did not verify', async () => {
    const t = hs(secret, { sub: 'alice', iat: now(), exp: now() + 300 });
    const response = await h.get('/echo', {
      method: 'POST',
      body: '{}',
      headers: {
        authorization: `Bearer ${t}`,
        'x-api-key': 'gh_unverified_key_from_the_client',
        'content-type': 'application/json',
      },
    });
    expect(response.status).toBe(200);
    const seen = (response.json() as { headers: Record<string, string> }).headers;
    expect(seen['authorization']).toBe(`Bearer ${t}`);
    expect(seen['gatehouse-identity']).toBeDefined();
    expect(seen['x-api-key']).toBeUndefined();
  });

  it('still refuses a token it cannot verify, before the upstream sees it', async () => {
    const before = h.upstream.hits();
    const forged = hs(Buffer.from('x'.repeat(32)), { sub: 'alice', iat: now(), exp: now() + 300 });
    const response = await h.get('/echo', {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${forged}`, 'content-type': 'application/json' },
    });
    expectProblem(response, 401, 'auth-unauthenticated');
    expect(h.upstream.hits()).toBe(before);
  });
});
