import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityVerifier } from '../../src/auth/assertion/verify-identity.js';
import { rotateSigningKey } from '../../src/auth/signing/signing-keys.js';
import { readLog, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { expectProblem, sleep } from './auth-support.js';

const SECRET = 'reporting-secret-0123456789-abcdefghijklmnop';

const openapi = `openapi: 3.1.0
info: { title: oauth test, version: 1.0.0 }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: { 'items:read': read items, 'items:write': write items }
    apiKey: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { oauth: ['items:read'] }, { apiKey: [] } ]
      x-gatehouse-scopes: ['items:read']
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
  /echo:
    post:
      security: [ { oauth: ['items:write'] } ]
      requestBody: { content: { application/json: { schema: { type: object } } } }
      responses: { '200': { description: what the upstream received } }
`;

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

describe('OAuth2 client credentials on the gateway', () => {
  let h: Harness;
  let secretDir: string;
  let partnerKey: string;
  const secrets: string[] = [SECRET];

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const requestToken = (headers: Record<string, string>, body = 'grant_type=client_credentials') =>
    h.get('/oauth/token', { method: 'POST', headers: { ...form, ...headers }, body });
  const tokenOf = (response: HttpResponse): TokenBody => {
    expect(response.status).toBe(200);
    const body = response.json() as TokenBody;
    secrets.push(body.access_token);
    return body;
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    secretDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-oauth-'));
    await writeFile(path.join(secretDir, 'reporting.secret'), SECRET + '\n');
    h = await startHarness({
      openapi,
      extraYaml: `preAuthLimit:
  failedAuth: { limit: 100000, window: 1m, burst: 100000 }
auth:
  signingKeyRotation: { publishAheadSec: 1 }
  tokenEndpoint:
    enabled: true
    lifetimeSec: 2
    clients:
      - id: reporting
        secret: file:${path.join(secretDir, 'reporting.secret')}
        scopes: ['items:read']
`,
    });
    const created = await h.gateway.keys.lifecycle.create({
      consumer: 'partner',
      scopes: ['items:read', 'items:write'],
      env: 'test',
      lifetimeMs: null,
    });
    partnerKey = created.key;
    secrets.push(partnerKey);
  });
  afterAll(async () => {
    await h?.close();
    await rm(secretDir, { recursive: true, force: true });
  });

  it('publishes the public signing keys, and nothing private', async () => {
    const response = await h.get('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    const { keys } = response.json() as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof keys[0]!['kid']).toBe('string');
    expect(keys[0]!['d']).toBeUndefined();
  });

  it('issues a token to a client authenticated by its secret, with its scopes, usable where they suffice', async () => {
    const response = await requestToken({ authorization: basic('reporting', SECRET) });
    expect(response.headers['cache-control']).toBe('no-store');
    const body = tokenOf(response);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'items:read' });
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.expires_in).toBeLessThanOrEqual(2);
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeJwt(body.access_token)).toMatchObject({
      iss: 'urn:gatehouse',
      aud: 'gatehouse',
      sub: 'reporting',
      scope: 'items:read',
    });
    expect((await h.get('/items/1', { headers: bearer(body.access_token) })).status).toBe(200);
    // items:write is not the client's: the token does not carry it, the upstream is never reached.
    const before = h.upstream.hits();
    const denied = await h.get('/echo', {
      method: 'POST',
      body: '{}',
      headers: { ...bearer(body.access_token), ...json },
    });
    expectProblem(denied, 403, 'auth-forbidden');
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="gatehouse", error="insufficient_scope"');
    expect(h.upstream.hits()).toBe(before);
  });

  it('issues a token to a client authenticated by its API key, narrowed by scope, never reaching an upstream', async () => {
    const before = h.upstream.hits();
    const body = tokenOf(
      await requestToken({ 'x-api-key': partnerKey }, 'grant_type=client_credentials&scope=items%3Awrite'),
    );
    expect(body.scope).toBe('items:write');
    expect(h.upstream.hits()).toBe(before);
    const echoed = await h.get('/echo', {
      method: 'POST',
      body: '{}',
      headers: { ...bearer(body.access_token), ...json },
    });
    expect(echoed.status).toBe(200);
    const seen = (echoed.json() as { headers: Record<string, string> }).headers;
    expect(seen['authorization']).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(body.access_token);
    const jwks = (await h.get('/.well-known/jwks.json')).json() as { keys: [] };
    const identity = await createIdentityVerifier({
      keys: jwks,
      issuer: 'urn:gatehouse',
      audience: 'test',
    }).verify(seen['gatehouse-identity']);
    expect(identity).toMatchObject({ subject: 'partner', consumer: 'partner', scopes: ['items:write'] });
    expect(identity.credential).toMatchObject({ kind: 'jwt', issuer: 'urn:gatehouse' });
    // Narrowed: this token cannot read, although the key could.
    expectProblem(await h.get('/items/1', { headers: bearer(body.access_token) }), 403, 'auth-forbidden');
    // The key itself still can, and the upstream sees the key's id, never the key.
    const direct = await h.get('/items/1', { headers: { 'x-api-key': partnerKey } });
    expect(direct.status).toBe(200);
    const last = h.upstream.received.at(-1)!;
    expect(last.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(last.headers)).not.toContain(partnerKey);
    const viaKey = await createIdentityVerifier({
      keys: jwks,
      issuer: 'urn:gatehouse',
      audience: 'test',
    }).verify(last.headers['gatehouse-identity']);
    expect(viaKey.credential).toMatchObject({ kind: 'api-key' });
    expect(viaKey.credential.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('never grants a scope the client does not hold', async () => {
    const response = await requestToken(
      { authorization: basic('reporting', SECRET) },
      'grant_type=client_credentials&scope=items%3Aread+items%3Awrite',
    );
    expect(response.status).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid_scope' });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  /** RFC 6749 §5.2, member by member: JSON with exactly `error`, never cached; the upstream not asked. */
  const expectOAuthError = (response: HttpResponse, status: number, error: string): void => {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['pragma']).toBe('no-cache');
    expect(response.json()).toEqual({ error });
  };

  it('refuses bad client credentials with 401 invalid_client and a Basic challenge (RFC 6749 §5.2)', async () => {
    for (const authorization of [basic('reporting', 'wrong-secret'), basic('nobody', SECRET), 'Basic !!!']) {
      const response = await requestToken({ authorization });
      expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers['www-authenticate']).toBe('Basic realm="gatehouse", charset="UTF-8"');
      expect(response.text).not.toMatch(/secret|nobody|problem/);
    }
    expectOAuthError(await requestToken({}), 401, 'invalid_client');
    const revocable = await h.gateway.keys.lifecycle.create({
      consumer: 'gone',
      scopes: ['items:read'],
      env: 'test',
      lifetimeMs: null,
    });
    secrets.push(revocable.key);
    expect((await requestToken({ 'x-api-key': revocable.key })).status).toBe(200);
    await h.gateway.keys.lifecycle.revoke(revocable.record.id);
    expectOAuthError(await requestToken({ 'x-api-key': revocable.key }), 401, 'invalid_client');
  });

  it('answers RFC 6749 errors for other grants and malformed requests', async () => {
    const auth = { authorization: basic('reporting', SECRET) };
    const password = await requestToken(auth, 'grant_type=password&username=a&password=b');
    expect(password.status).toBe(400);
    expect(password.json()).toEqual({ error: 'unsupported_grant_type' });
    const repeated = await requestToken(auth, 'grant_type=client_credentials&grant_type=client_credentials');
    expectOAuthError(repeated, 400, 'invalid_request');
    expectOAuthError(await requestToken(auth, 'scope=items%3Aread'), 400, 'invalid_request'); // no grant_type
    // Not the form RFC 6749 §4.4.2 requires: the contract of the built-in API refuses it, in OAuth's words.
    const asJson = await h.get('/oauth/token', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"grant_type":"client_credentials"}',
    });
    expectOAuthError(asJson, 400, 'invalid_request');
  });

  it('keeps accepting tokens signed before a key rotation, and signs new ones with the new key, no reload needed', async () => {
    const before = tokenOf(await requestToken({ authorization: basic('reporting', SECRET) }));
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const { kid: newKid } = await rotateSigningKey(path.join(h.dir, 'state'));
    // Published within a second, signing a second (publishAheadSec) after it was made.
    let after = before;
    for (let i = 0; i < 40 && decodeProtectedHeader(after.access_token).kid !== newKid; i += 1) {
      await sleep(100);
      after = tokenOf(await requestToken({ authorization: basic('reporting', SECRET) }));
    }
    expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid);
    const { keys } = (await h.get('/.well-known/jwks.json')).json() as { keys: { kid: string }[] };
    expect(keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect((await h.get('/items/1', { headers: bearer(before.access_token) })).status).toBe(200);
    expect((await h.get('/items/1', { headers: bearer(after.access_token) })).status).toBe(200);
  });

  it('refuses an issued token once it has expired', async () => {
    const body = tokenOf(await requestToken({ authorization: basic('reporting', SECRET) }));
    expect((await h.get('/items/1', { headers: bearer(body.access_token) })).status).toBe(200);
    await sleep((body.expires_in + 5 + 1) * 1000); // lifetime, then the 5 s skew allowed on the gateway's own tokens
    const before = h.upstream.hits();
    const expired = await h.get('/items/1', { headers: { ...bearer(body.access_token), ...json } });
    expectProblem(expired, 401, 'auth-unauthenticated');
    expect(expired.headers['www-authenticate']).toBe('Bearer realm="gatehouse", error="invalid_token"');
    expect(h.upstream.hits()).toBe(before);
  }, 15_000);

  it('never writes a key, a secret or a token to the log', async () => {
    await sleep(300);
    const log = await readLog(h);
    expect(log).toContain('"route":"/oauth/token"');
    for (const secret of secrets) expect(log).not.toContain(secret);
  });
});
