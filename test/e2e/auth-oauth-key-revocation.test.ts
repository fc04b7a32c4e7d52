/**
 * Issue #19 item 2: an access token obtained with an API key names the key (`key_id`), and is
 * refused within a second of the key's revocation — on the gateway that revoked it, and on a
 * replica sharing the key store — instead of working until its `exp`. The upstream is never
 * reached by a refused token; a token obtained with a client secret is not affected.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observe/logger.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { keyStoreSetups } from '../support/key-store-setups.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';
import { expectProblem, journeyReason, sleep } from './auth-support.js';

const ADMIN_TOKEN = randomBytes(32).toString('hex');
process.env.GH_TEST_REVOCATION_ADMIN_TOKEN = ADMIN_TOKEN;
const SECRET = 'reporting-secret-0123456789-abcdefghijklmnop';

const openapi = `openapi: 3.1.0
info: { title: revocation test, version: 1.0.0 }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: { 'items:read': read items }
    apiKey: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { oauth: ['items:read'] }, { apiKey: [] } ]
      x-gatehouse-scopes: ['items:read']
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
`;

/** The token endpoint with a secret client, tokens of the default 300 s; refusals not rate limited. */
const tokenEndpointYaml = (secretFile: string): string => `preAuthLimit:
  failedAuth: { limit: 100000, window: 1m, burst: 100000 }
auth:
  tokenEndpoint:
    enabled: true
    clients:
      - id: reporting
        secret: file:${secretFile}
        scopes: ['items:read']
`;
const adminYaml = 'admin:\n  port: 0\n  token: env:GH_TEST_REVOCATION_ADMIN_TOKEN\n';

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const GRANT = 'grant_type=client_credentials';
const basic = `Basic ${Buffer.from(`reporting:${SECRET}`).toString('base64')}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A gateway's public listener, as the harness calls it. */
type Door = Pick<Harness, 'get'>;

async function mintToken(door: Door, headers: Record<string, string>): Promise<string> {
  const response = await door.get('/oauth/token', {
    method: 'POST',
    headers: { ...form, ...headers },
    body: GRANT,
  });
  expect(response.status).toBe(200);
  return (response.json() as { access_token: string }).access_token;
}

/** The generic 401 of a refused bearer token (RFC 6750 §3: error="invalid_token"). */
function expectRefusedToken(response: HttpResponse): void {
  expectProblem(response, 401, 'auth-unauthenticated');
  expect(response.headers['www-authenticate']).toBe('Bearer realm="gatehouse", error="invalid_token"');
}

/** Milliseconds until `token` is refused with 401 at `door` (tried every 10 ms), or Infinity after 3 s. */
async function msUntilRefused(door: Door, token: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 3_000) {
    if ((await door.get('/items/1', { headers: bearer(token) })).status === 401) {
      return performance.now() - started;
    }
    await sleep(10);
  }
  return Infinity;
}

interface KeyResponse {
  key: string;
  record: { id: string; status: string };
  replaced?: { id: string; overlapUntil: number };
}

/** The admin API of one gateway: create, revoke and rotate keys as an operator would. */
function adminOf(agent: Agent, gateway: Gatehouse) {
  const base = `https://127.0.0.1:${gateway.adminAddress!.port}`;
  const call = async (route: string, body: unknown = {}): Promise<KeyResponse> => {
    const response = await fetchResponse(agent, base + route, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect([200, 201]).toContain(response.status);
    return response.json() as KeyResponse;
  };
  return {
    create: (consumer: string) => call('/keys', { consumer, scopes: ['items:read'], env: 'test' }),
    revoke: (id: string) => call(`/keys/${id}/revoke`),
    rotate: (id: string, overlap: string) => call(`/keys/${id}/rotate`, { overlap }),
  };
}

describe('a token minted from an API key follows the key: revoked through the admin API', () => {
  let h: Harness;
  let secretDir: string;
  let admin: ReturnType<typeof adminOf>;

  beforeAll(async () => {
    secretDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-revocation-'));
    await writeFile(path.join(secretDir, 'reporting.secret'), SECRET + '\n');
    h = await startHarness({
      openapi,
      extraYaml: tokenEndpointYaml(path.join(secretDir, 'reporting.secret')) + adminYaml,
    });
    admin = adminOf(h.agent, h.gateway);
  });
  afterAll(async () => {
    await h?.close();
    await rm(secretDir, { recursive: true, force: true });
  });

  it('works until the key is revoked, then is refused at once, cached or not; the upstream is not reached', async () => {
    const created = await admin.create('partner');
    const used = await mintToken(h, { 'x-api-key': created.key });
    const unused = await mintToken(h, { 'x-api-key': created.key });
    const fromSecret = await mintToken(h, { authorization: basic });
    expect(decodeJwt(used)).toMatchObject({ key_id: created.record.id, sub: 'partner' });
    expect(decodeJwt(fromSecret)).not.toHaveProperty('key_id');
    expect(decodeJwt(used).exp! - decodeJwt(used).iat!).toBe(300); // would work for minutes yet
    expect((await h.get('/items/1', { headers: bearer(used) })).status).toBe(200); // now cached
    expect((await h.get('/items/1', { headers: bearer(fromSecret) })).status).toBe(200);

    expect((await admin.revoke(created.record.id)).record.status).toBe('revoked');
    const before = h.upstream.hits();
    // The gateway that revoked the key refuses at the very next request: served from the cache...
    const cached = await h.get('/items/1', { headers: bearer(used) });
    expectRefusedToken(cached);
    expect(await journeyReason(h, cached)).toBe(
      `jwt.key-revoked: the API key it was minted from is revoked (key ${created.record.id})`,
    );
    // ...or seen for the first time, and again when replayed.
    for (let i = 0; i < 2; i += 1) {
      const first = await h.get('/items/1', { headers: bearer(unused) });
      expectRefusedToken(first);
      expect(await journeyReason(h, first)).toMatch(/^jwt\.key-revoked: /);
    }
    expect(h.upstream.hits()).toBe(before);
    // A token obtained with a client secret names no key, and is not affected.
    expect((await h.get('/items/1', { headers: bearer(fromSecret) })).status).toBe(200);
  });

  it('is refused while its key is banned, and works again once the ban is lifted; the upstream is not reached', async () => {
    const created = await admin.create('banned-partner');
    const token = await mintToken(h, { 'x-api-key': created.key });
    expect((await h.get('/items/1', { headers: bearer(token) })).status).toBe(200);
    const banned = await fetchResponse(h.agent, `https://127.0.0.1:${h.gateway.adminAddress!.port}/bans`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'key', value: created.record.id, duration: '1m', reason: 'test' }),
    });
    expect(banned.status).toBe(201);
    const before = h.upstream.hits();
    const refused = await h.get('/items/1', { headers: bearer(token) });
    expectProblem(refused, 403, 'access-banned');
    expect(h.upstream.hits()).toBe(before);
    const { ban } = banned.json() as { ban: { id: string } };
    const lifted = await fetchResponse(
      h.agent,
      `https://127.0.0.1:${h.gateway.adminAddress!.port}/bans/${ban.id}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      },
    );
    expect(lifted.status).toBe(200);
    expect((await h.get('/items/1', { headers: bearer(token) })).status).toBe(200);
  });

  it('works during a rotation overlap, and is refused once the overlap ends', async () => {
    const old = await admin.create('rotating');
    const token = await mintToken(h, { 'x-api-key': old.key });
    expect((await h.get('/items/1', { headers: bearer(token) })).status).toBe(200);
    const rotated = await admin.rotate(old.record.id, '1s');
    const fresh = await mintToken(h, { 'x-api-key': rotated.key });
    expect((await h.get('/items/1', { headers: bearer(token) })).status).toBe(200);
    await sleep(rotated.replaced!.overlapUntil - Date.now() + 20);
    const before = h.upstream.hits();
    const refused = await h.get('/items/1', { headers: bearer(token) });
    expectRefusedToken(refused);
    expect(await journeyReason(h, refused)).toMatch(/^jwt\.key-expired: .*rotation overlap has ended/);
    expect(h.upstream.hits()).toBe(before);
    expect((await h.get('/items/1', { headers: bearer(fresh) })).status).toBe(200);
  });
});

const setups = keyStoreSetups('revocation');

for (const setup of setups) {
  const title = `a token minted from an API key, two gateways sharing the key store: ${setup.name}`;
  describe.skipIf(setup.skip !== null)(
    setup.skip === null ? title : `${title} (skipped: ${setup.skip})`,
    { timeout: 30_000 },
    () => {
      let dir: string;
      let upstream: TestUpstream;
      let agent: Agent;
      let cleanup: () => Promise<void> = async () => {};
      const gateways: Gatehouse[] = [];
      const doorOf = (gateway: Gatehouse): Door => {
        const base = `https://127.0.0.1:${gateway.addresses.get('public')!.port}`;
        return { get: (pathAndQuery, init = {}) => fetchResponse(agent, base + pathAndQuery, init) };
      };
      const reasonOn = async (gateway: Gatehouse, response: HttpResponse): Promise<string> => {
        for (let i = 0; i < 50; i += 1) {
          const journey = gateway.journeys.find(String(response.headers['x-request-id']));
          if (journey !== undefined) return journey.reason ?? '';
          await sleep(10);
        }
        return '(no journey record)';
      };

      beforeAll(async () => {
        dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-revocation-replicas-'));
        const certs = await ensureDevCertificates(path.join(dir, 'state'));
        upstream = await startTestUpstream(certs);
        agent = new Agent({ connect: { ca: certs.caCert } });
        await writeFile(path.join(dir, 'api.yaml'), openapi);
        await writeFile(path.join(dir, 'reporting.secret'), SECRET + '\n');
        const keys = await setup.keys();
        cleanup = keys.cleanup;
        Object.assign(process.env, keys.env);
        // One state folder: the same signing keys (each accepts the other's tokens) and, for
        // SQLite, the same key store. Only gateway a has the admin API.
        for (const name of ['a', 'b']) {
          await writeFile(
            path.join(dir, `gw-${name}.yaml`),
            `stateDir: ./state\nlisteners:\n  - { name: public, host: 127.0.0.1, port: 0, tls: dev }\n` +
              `apis:\n  - name: test\n    openapi: ./api.yaml\n    upstream: { url: "${upstream.url}", tls: dev }\n` +
              `log: { level: info, access: true, destination: ./gw-${name}.log }\n` +
              tokenEndpointYaml(path.join(dir, 'reporting.secret')) +
              keys.yaml +
              (name === 'a' ? adminYaml : ''),
          );
        }
        // One after the other: the first start writes the signing key the second one loads.
        for (const name of ['a', 'b']) {
          const config = await loadConfig(path.join(dir, `gw-${name}.yaml`));
          gateways.push(await startGatehouse(config, createLogger(config.log)));
        }
      });
      afterAll(async () => {
        await Promise.all(gateways.map((g) => g.close(200)));
        await agent?.close();
        await upstream?.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      });

      it('revoked on one gateway, its tokens are refused within a second on both', async () => {
        const [a, b] = gateways as [Gatehouse, Gatehouse];
        const [doorA, doorB] = [doorOf(a), doorOf(b)];
        const admin = adminOf(agent, a);
        const created = await admin.create('partner');
        for (let i = 0; i < 300 && !b.keys.verifier.verify(created.key).ok; i += 1) await sleep(10);
        const fromA = await mintToken(doorA, { 'x-api-key': created.key });
        const fromB = await mintToken(doorB, { 'x-api-key': created.key });
        const fromSecret = await mintToken(doorA, { authorization: basic });
        for (const door of [doorA, doorB]) {
          for (const token of [fromA, fromB, fromSecret]) {
            expect((await door.get('/items/1', { headers: bearer(token) })).status).toBe(200);
          }
        }

        await admin.revoke(created.record.id);
        const [msOnA, msOnB] = await Promise.all([
          msUntilRefused(doorA, fromB),
          msUntilRefused(doorB, fromA),
        ]);
        expect(msOnA).toBeLessThan(1_000);
        expect(msOnB).toBeLessThan(1_000);
        const before = upstream.hits();
        for (const [gateway, door] of [
          [a, doorA],
          [b, doorB],
        ] as const) {
          for (const token of [fromA, fromB]) {
            const refused = await door.get('/items/1', { headers: bearer(token) });
            expectRefusedToken(refused);
            expect(await reasonOn(gateway, refused)).toMatch(/^jwt\.key-revoked: /);
          }
        }
        expect(upstream.hits()).toBe(before);
        for (const door of [doorA, doorB]) {
          expect((await door.get('/items/1', { headers: bearer(fromSecret) })).status).toBe(200);
        }
      });
    },
  );
}
