/**
 * Issue #19 item 3: signing keys in the state folder take over from each other by themselves. Two
 * gateways share the folder; after `rotateSigningKey` (what `gatehouse signing-key rotate` does)
 * and no reload, both publish the new key within a second, both sign with it `publishAheadSec`
 * later, each accepts the other's tokens throughout, and the old key leaves the JWKS, and its
 * private key file the disk, once the last token it signed has expired.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateSigningKey, SIGNING_KEY_FOLDER } from '../../src/auth/signing/signing-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observe/logger.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse, type Harness } from '../support/gateway-harness.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';
import { sleep } from './auth-support.js';

const SECRET = 'rotation-secret-0123456789-abcdefghijklmnop';
const TOKEN_LIFETIME_SEC = 6;
const PUBLISH_AHEAD_SEC = 2;

const openapi = `openapi: 3.1.0
info: { title: rotation test, version: 1.0.0 }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: { 'items:read': read items }
paths:
  /items/{id}:
    get:
      security: [ { oauth: ['items:read'] } ]
      x-gatehouse-scopes: ['items:read']
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
`;

type Door = Pick<Harness, 'get'>;

describe('signing keys shared by two gateways rotate and retire by themselves', { timeout: 40_000 }, () => {
  let dir: string;
  let upstream: TestUpstream;
  let agent: Agent;
  const gateways: Gatehouse[] = [];
  const doors: Door[] = [];

  const mint = async (door: Door): Promise<string> => {
    const response = await door.get('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`reporting:${SECRET}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
    return (response.json() as { access_token: string }).access_token;
  };
  const kidOf = (token: string) => decodeProtectedHeader(token).kid;
  const publishedOn = async (door: Door): Promise<string[]> =>
    ((await door.get('/.well-known/jwks.json')).json() as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  /** Every door answers `token` with 200, and the upstream saw each of those requests. */
  const expectAcceptedEverywhere = async (token: string): Promise<void> => {
    for (const door of doors) {
      const before = upstream.hits();
      expect((await door.get('/items/1', { headers: { authorization: `Bearer ${token}` } })).status).toBe(
        200,
      );
      expect(upstream.hits()).toBe(before + 1);
    }
  };
  /** Polls `check` every 100 ms for up to `ms`; returns the milliseconds it took. */
  const within = async (ms: number, check: () => Promise<boolean>): Promise<number> => {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
      await sleep(100);
    }
    return Date.now() - started;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-signing-rotation-'));
    const certs = await ensureDevCertificates(path.join(dir, 'state'));
    upstream = await startTestUpstream(certs);
    agent = new Agent({ connect: { ca: certs.caCert } });
    await writeFile(path.join(dir, 'api.yaml'), openapi);
    await writeFile(path.join(dir, 'reporting.secret'), SECRET + '\n');
    for (const name of ['a', 'b']) {
      await writeFile(
        path.join(dir, `gw-${name}.yaml`),
        `stateDir: ./state\nlisteners:\n  - { name: public, host: 127.0.0.1, port: 0, tls: dev }\n` +
          `apis:\n  - name: test\n    openapi: ./api.yaml\n    upstream: { url: "${upstream.url}", tls: dev }\n` +
          `log: { level: info, access: false, destination: ./gw-${name}.log }\n` +
          `auth:\n` +
          `  signingKeyRotation: { publishAheadSec: ${PUBLISH_AHEAD_SEC}, retireMarginSec: 0 }\n` +
          `  identity: { lifetimeSec: 2, reuseSec: 1 }\n` +
          `  tokenEndpoint:\n    enabled: true\n    lifetimeSec: ${TOKEN_LIFETIME_SEC}\n` +
          `    clients: [ { id: reporting, secret: file:./reporting.secret, scopes: ['items:read'] } ]\n`,
      );
    }
    // One after the other: the first start writes the signing key the second one loads.
    for (const name of ['a', 'b']) {
      const config = await loadConfig(path.join(dir, `gw-${name}.yaml`));
      const gateway = await startGatehouse(config, createLogger(config.log));
      gateways.push(gateway);
      const base = `https://127.0.0.1:${gateway.addresses.get('public')!.port}`;
      doors.push({ get: (pathAndQuery, init = {}) => fetchResponse(agent, base + pathAndQuery, init) });
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close(200)));
    await agent?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes, signs with and retires keys on both gateways with no reload', async () => {
    const [doorA, doorB] = doors as [Door, Door];
    const oldToken = await mint(doorA);
    const oldKid = kidOf(oldToken);
    expect(kidOf(await mint(doorB))).toBe(oldKid);
    await expectAcceptedEverywhere(oldToken);

    const { kid: newKid, createdAt } = await rotateSigningKey(path.join(dir, 'state'));
    // Published on both within a second (each re-reads the folder every second)...
    for (const door of doors) {
      await within(1_500, async () => (await publishedOn(door)).includes(newKid));
      expect((await publishedOn(door)).sort()).toEqual([oldKid, newKid].sort());
    }
    // ...while the old key still signs, until publishAheadSec after the rotation.
    const tokens: string[] = [];
    for (const door of doors) {
      await within(PUBLISH_AHEAD_SEC * 1000 + 1_500, async () => kidOf(await mint(door)) === newKid);
      tokens.push(await mint(door));
    }
    expect(Date.now()).toBeGreaterThanOrEqual(createdAt + PUBLISH_AHEAD_SEC * 1000);
    // Each gateway accepts the other's new tokens, and the old key's token while it lives.
    for (const token of tokens) await expectAcceptedEverywhere(token);
    await expectAcceptedEverywhere(oldToken);

    // The old key signed until createdAt + publishAheadSec (+ at most one refresh): its last token
    // expires TOKEN_LIFETIME_SEC after that. Retired then on both, not before.
    for (const door of doors) {
      await within((PUBLISH_AHEAD_SEC + TOKEN_LIFETIME_SEC + 3) * 1000, async () => {
        return (await publishedOn(door)).length === 1;
      });
      expect(await publishedOn(door)).toEqual([newKid]);
    }
    expect(Date.now()).toBeGreaterThanOrEqual(createdAt + (PUBLISH_AHEAD_SEC + TOKEN_LIFETIME_SEC) * 1000);
    expect(Date.now() / 1000).toBeGreaterThan(decodeJwt(oldToken).exp!);
    expect(await readdir(path.join(dir, 'state', SIGNING_KEY_FOLDER))).toEqual([`es256-${createdAt}.pem`]);
    for (const token of tokens) await expectAcceptedEverywhere(token);

    // Said in the log of each gateway (one of them deleted the file).
    const logs = await Promise.all(
      ['a', 'b'].map((name) => readFile(path.join(dir, `gw-${name}.log`), 'utf8')),
    );
    for (const log of logs) {
      expect(log).toMatch(new RegExp(`"kid":"${newKid}".*"msg":"signing key published"`));
      expect(log).toMatch(new RegExp(`"kid":"${newKid}".*"msg":"signing key now signs"`));
    }
    expect(logs.join('\n')).toMatch(new RegExp(`"kid":"${oldKid}".*"msg":"signing key retired: `));
  });
});
