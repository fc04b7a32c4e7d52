/**
 * Issue #19 item 4: a gateway cut off from the PostgreSQL key store keeps serving from memory,
 * and still refuses, within a second, a key revoked on another gateway: the revocation also
 * travels in the Redis change notice. Its readiness says the keys are degraded, its log says
 * since when, and says so again when the store is back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observe/logger.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse, type HttpResponse } from '../support/gateway-harness.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';
import { expectProblem, sleep } from './auth-support.js';

const DATABASE_URL = process.env.DATABASE_URL ?? null;
const REDIS_URL = process.env.REDIS_URL ?? null;
const skip =
  DATABASE_URL === null || REDIS_URL === null
    ? 'DATABASE_URL and REDIS_URL are not both set (CI sets them)'
    : null;

const ADMIN_TOKEN = randomBytes(32).toString('hex');

const openapi = `openapi: 3.1.0
info: { title: cut-off test, version: 1.0.0 }
components:
  securitySchemes:
    apiKey: { type: apiKey, in: header, name: X-API-Key }
security: [ { apiKey: [] } ]
paths:
  /items/{id}:
    get:
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
`;

const title = 'a gateway cut off from the PostgreSQL key store, with Redis';
describe.skipIf(skip !== null)(
  skip === null ? title : `${title} (skipped: ${skip})`,
  { timeout: 40_000 },
  () => {
    let dir: string;
    let upstream: TestUpstream;
    let agent: Agent;
    let proxy: TcpProxy;
    let schema: string;
    const gateways: Gatehouse[] = [];

    const get = (gateway: Gatehouse, key: string): Promise<HttpResponse> =>
      fetchResponse(agent, `https://127.0.0.1:${gateway.addresses.get('public')!.port}/items/1`, {
        headers: { 'x-api-key': key },
      });
    const admin = async (gateway: Gatehouse, route: string, body: unknown) => {
      const response = await fetchResponse(agent, `https://127.0.0.1:${gateway.adminAddress!.port}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect([200, 201]).toContain(response.status);
      return response.json() as { key: string; record: { id: string; version: number } };
    };
    /** The first line of gateway `name`'s log with this message, waited for up to 3 s (written asynchronously). */
    const logLine = async (name: string, msg: string): Promise<Record<string, unknown> | undefined> => {
      for (let i = 0; i < 60; i += 1) {
        const lines = (await readFile(path.join(dir, `gw-${name}.log`), 'utf8'))
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        const found = lines.find((line) => line['msg'] === msg);
        if (found !== undefined) return found;
        await sleep(50);
      }
      return undefined;
    };

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-keys-cutoff-'));
      const certs = await ensureDevCertificates(path.join(dir, 'state'));
      upstream = await startTestUpstream(certs);
      agent = new Agent({ connect: { ca: certs.caCert } });
      const database = new URL(DATABASE_URL!);
      proxy = await startTcpProxy(database.hostname, Number(database.port || 5432));
      const throughProxy = new URL(DATABASE_URL!);
      throughProxy.hostname = '127.0.0.1';
      throughProxy.port = String(proxy.port);
      schema = `gh_keys_cutoff_${randomBytes(6).toString('hex')}`;
      Object.assign(process.env, {
        GH_CUTOFF_ADMIN_TOKEN: ADMIN_TOKEN,
        GH_CUTOFF_DB_A: DATABASE_URL!,
        GH_CUTOFF_DB_B: throughProxy.toString(),
        GH_CUTOFF_REDIS: REDIS_URL!,
      });
      await writeFile(path.join(dir, 'api.yaml'), openapi);
      for (const name of ['a', 'b']) {
        await writeFile(
          path.join(dir, `gw-${name}.yaml`),
          `stateDir: ./state\nlisteners:\n  - { name: public, host: 127.0.0.1, port: 0, tls: dev }\n` +
            `apis:\n  - name: test\n    openapi: ./api.yaml\n    upstream: { url: "${upstream.url}", tls: dev }\n` +
            `log: { level: info, access: false, destination: ./gw-${name}.log }\n` +
            `keys:\n  store: { postgres: { url: env:GH_CUTOFF_DB_${name.toUpperCase()}, schema: ${schema} } }\n` +
            `  sync: { redisUrl: env:GH_CUTOFF_REDIS, pollMs: 500 }\n` +
            `admin:\n  port: 0\n  token: env:GH_CUTOFF_ADMIN_TOKEN\n`,
        );
      }
      for (const name of ['a', 'b']) {
        const config = await loadConfig(path.join(dir, `gw-${name}.yaml`));
        gateways.push(await startGatehouse(config, createLogger(config.log)));
      }
    });
    afterAll(async () => {
      await Promise.all(gateways.map((g) => g.close(200)));
      await agent?.close();
      await upstream?.close();
      await proxy?.close();
      if (schema !== undefined) {
        const client = new pg.Client({ connectionString: DATABASE_URL! });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a key revoked elsewhere within a second, says degraded, and logs since when', async () => {
      const [a, b] = gateways as [Gatehouse, Gatehouse];
      const created = await admin(a, '/keys', { consumer: 'partner', scopes: [], env: 'test' });
      const kept = await admin(a, '/keys', { consumer: 'other', scopes: [], env: 'test' });
      for (let i = 0; i < 100 && !b.keys.verifier.verify(kept.key).ok; i += 1) await sleep(10);
      expect((await get(b, created.key)).status).toBe(200);
      expect(b.readiness().checks['keys']).toBe('ok');

      proxy.cut();
      const cutAt = Date.now();
      const { record: revokedRecord } = await admin(a, `/keys/${created.record.id}/revoke`, {});
      const revokedAt = performance.now();
      let refused: HttpResponse | null = null;
      while (refused === null && performance.now() - revokedAt < 3_000) {
        const before = upstream.hits();
        const response = await get(b, created.key);
        if (response.status === 401) {
          expect(upstream.hits()).toBe(before);
          refused = response;
        } else await sleep(10);
      }
      expect(performance.now() - revokedAt).toBeLessThan(1_000);
      expectProblem(refused!, 401, 'auth-unauthenticated');
      // The store was not read: the revocation came with the notice (the index has not reached the
      // revocation's change), and nothing else changed.
      expect(b.keys.verifier.version).toBeLessThan(revokedRecord.version);
      expect((await get(b, kept.key)).status).toBe(200);
      // The read the notice prompted fails as the relay refuses it: then the keys are degraded.
      for (let i = 0; i < 100 && b.keys.storeReadable(); i += 1) await sleep(30);
      expect(b.keys.storeReadable()).toBe(false);
      expect(b.readiness().checks['keys']).toBe('degraded');
      expect(b.readiness().status).toBe('degraded');

      const failing = await logLine('b', 'key sync: cannot read the key store');
      expect(failing).toBeDefined();
      expect(Date.parse(String(failing!['since']))).toBeGreaterThanOrEqual(cutAt - 1_000);

      proxy.mend();
      for (let i = 0; i < 150 && !b.keys.storeReadable(); i += 1) await sleep(100);
      expect(b.keys.storeReadable()).toBe(true);
      expect(b.readiness().checks['keys']).toBe('ok');
      const back = await logLine('b', 'key sync: key store readable again');
      expect(back).toMatchObject({ unreadableSince: failing!['since'] });
      expect(back!['unreadableForMs']).toEqual(expect.any(Number));
      // Read from the store again (its change sequence reached the revocation), the key is revoked
      // there too, and stays refused.
      for (let i = 0; i < 100 && b.keys.verifier.version < revokedRecord.version; i += 1) await sleep(50);
      expect(b.keys.verifier.version).toBeGreaterThanOrEqual(revokedRecord.version);
      expectProblem(await get(b, created.key), 401, 'auth-unauthenticated');
    });
  },
);
