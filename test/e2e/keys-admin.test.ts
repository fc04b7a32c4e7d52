import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_SCANNER_REGEX } from '../../src/auth/keys/index.js';
import { AdminStartRefused, startAdminServer } from '../../src/admin/server.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import {
  fetchResponse,
  readLog,
  startHarness,
  type HttpResponse,
  type Harness,
} from '../support/gateway-harness.js';
import { expectProblem, PROBLEM_BASE } from '../support/problems.js';

const TOKEN = randomBytes(32).toString('hex');
process.env.GH_TEST_ADMIN_TOKEN = TOKEN;

interface KeyResponse {
  key: string;
  record: { id: string; consumer: string; scopes: string[]; status: string; expiresAt: number | null };
  replaced?: { id: string; overlapUntil: number };
}

describe('admin API on its own loopback HTTPS listener', () => {
  let h: Harness;
  let admin: string;
  const issued: string[] = [];
  const call = (
    method: string,
    route: string,
    init: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    return fetchResponse(
      h.agent,
      admin + route,
      body === undefined ? { method, headers } : { method, headers, body },
    );
  };
  const create = async (body: unknown): Promise<KeyResponse> => {
    const response = await call('POST', '/keys', { body });
    expect(response.status).toBe(201);
    const created = response.json() as KeyResponse;
    issued.push(created.key);
    return created;
  };
  const storedCount = async (): Promise<number> =>
    (await h.gateway.keys.lifecycle.list({ after: null, limit: 1000, consumer: null })).length;

  beforeAll(async () => {
    h = await startHarness({
      extraYaml: 'keys:\n  sync: { pollMs: 100 }\nadmin:\n  port: 0\n  token: env:GH_TEST_ADMIN_TOKEN\n',
    });
    const address = h.gateway.adminAddress!;
    admin = `https://127.0.0.1:${address.port}`;
  });
  afterAll(async () => h?.close());

  it('listens on loopback, apart from the gateway listener', () => {
    const address = h.gateway.adminAddress!;
    expect(address.address).toBe('127.0.0.1');
    expect(address.port).not.toBe(h.port);
  });

  it('refuses a request without a credential with 401 + WWW-Authenticate, whatever the path', async () => {
    const before = await storedCount();
    for (const [method, route] of [
      ['POST', '/keys'],
      ['GET', '/keys'],
      ['GET', '/no-such-route'],
    ] as const) {
      const response = await call(method, route, {
        token: null,
        body: method === 'POST' ? { consumer: 'x' } : undefined,
      });
      expectProblem(response, 401, 'admin-unauthorized');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="gatehouse-admin"');
    }
    expect(await storedCount()).toBe(before);
  });

  it('refuses a wrong credential: other token, same length, prefix, other scheme', async () => {
    const before = await storedCount();
    const wrong = [
      { authorization: `Bearer ${randomBytes(32).toString('hex')}` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
    ];
    for (const headers of wrong) {
      const response = await call('POST', '/keys', {
        token: null,
        headers,
        body: { consumer: 'mallory', scopes: ['admin'] },
      });
      expectProblem(response, 401, 'admin-unauthorized');
    }
    expect(await storedCount()).toBe(before);
  });

  it('creates a key, shows it once, and the gateway accepts it at once', async () => {
    const response = await call('POST', '/keys', {
      body: { consumer: 'alice', scopes: ['accounts:read', 'transfers:write'], expiresIn: '90d' },
    });
    expect(response.status).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['strict-transport-security']).toMatch(/^max-age=/);
    const created = response.json() as KeyResponse;
    issued.push(created.key);
    expect(created.key).toMatch(new RegExp(`^${API_KEY_SCANNER_REGEX.source.replaceAll('\\b', '')}$`));
    expect(created.record).toMatchObject({
      consumer: 'alice',
      scopes: ['accounts:read', 'transfers:write'],
      status: 'active',
    });
    expect(created.record.expiresAt! - Date.now()).toBeGreaterThan(89 * 86_400_000);
    const verified = h.gateway.keys.verifier.verify(created.key);
    expect(verified.ok && verified.key.id).toBe(created.record.id);
  });

  it('lists keys without any secret or hash', async () => {
    await create({ consumer: 'bob', scopes: [], env: 'test' });
    const response = await call('GET', '/keys?limit=1000');
    expect(response.status).toBe(200);
    const body = response.json() as { keys: Record<string, unknown>[]; next: string | null };
    expect(body.keys.length).toBeGreaterThanOrEqual(2);
    for (const key of issued) expect(response.text).not.toContain(key);
    expect(response.text).not.toMatch(/gk_(live|test)_/);
    expect(body.keys.every((k) => !('hash' in k) && !('key' in k))).toBe(true);
    const page = (await call('GET', '/keys?limit=1')).json() as { keys: { id: string }[]; next: string };
    expect(page.keys).toHaveLength(1);
    expect(page.next).toBe(page.keys[0]!.id);
    const one = await call('GET', `/keys/${page.keys[0]!.id}`);
    expect((one.json() as { record: { id: string } }).record.id).toBe(page.keys[0]!.id);
  });

  it('revokes a key: the gateway refuses it at once', async () => {
    const created = await create({ consumer: 'carol', scopes: ['x'] });
    expect(h.gateway.keys.verifier.verify(created.key).ok).toBe(true);
    const response = await call('POST', `/keys/${created.record.id}/revoke`);
    expect(response.status).toBe(200);
    expect((response.json() as KeyResponse).record.status).toBe('revoked');
    expect(h.gateway.keys.verifier.verify(created.key)).toEqual({ ok: false, reason: 'revoked' });
    expectProblem(await call('POST', '/keys/0123456789abcdef/revoke'), 404, 'admin-not-found');
  });

  it('rotates a key: both work during the overlap, then only the new one', async () => {
    const old = await create({ consumer: 'dave', scopes: ['w'] });
    const response = await call('POST', `/keys/${old.record.id}/rotate`, { body: { overlap: '1s' } });
    expect(response.status).toBe(201);
    const rotated = response.json() as KeyResponse;
    issued.push(rotated.key);
    expect(rotated.replaced!.id).toBe(old.record.id);
    expect(rotated.record).toMatchObject({ consumer: 'dave', scopes: ['w'] });
    const verifier = h.gateway.keys.verifier;
    expect(verifier.verify(old.key).ok).toBe(true);
    expect(verifier.verify(rotated.key).ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, rotated.replaced!.overlapUntil - Date.now() + 20));
    expect(verifier.verify(old.key)).toEqual({ ok: false, reason: 'expired' });
    expect(verifier.verify(rotated.key).ok).toBe(true);
    expectProblem(await call('POST', `/keys/${old.record.id}/rotate`, { body: {} }), 409, 'admin-conflict');
  });

  it('refuses bad requests with a generic problem', async () => {
    expectProblem(
      await call('POST', '/keys', { body: { consumer: 'eve', scopes: ['a'], admin: true } }),
      400,
      'admin-bad-request',
    );
    expectProblem(
      await call('POST', '/keys', { body: { consumer: 'eve', scopes: ['a b'] } }),
      400,
      'admin-bad-request',
    );
    expectProblem(
      await call('POST', '/keys', { body: { consumer: 'eve', expiresIn: '3 months' } }),
      400,
      'admin-bad-request',
    );
    expectProblem(await call('POST', '/keys', { body: '{"consumer":' }), 400, 'admin-bad-request');
    expectProblem(
      await call('POST', '/keys', {
        body: 'consumer=eve',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'admin-unsupported-media-type',
    );
    expectProblem(
      await call('POST', '/keys', { body: { consumer: 'x'.repeat(20_000) } }),
      413,
      'admin-body-too-large',
    );
    const notAllowed = await call('DELETE', '/keys');
    expectProblem(notAllowed, 405, 'admin-method-not-allowed');
    expect(notAllowed.headers['allow']).toBe('GET, POST');
    expectProblem(await call('GET', '/keys/../etc'), 404, 'admin-not-found');
  });

  it('refuses plaintext HTTP on the admin port', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(h.gateway.adminAddress!.port, '127.0.0.1', () =>
        socket.write(`GET /keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`),
      );
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain(`${PROBLEM_BASE}transport-plaintext`);
    expect(text).not.toMatch(/gk_(live|test)_/);
  });

  it('never writes a key or the admin credential to the log', async () => {
    await new Promise((resolve) => setTimeout(resolve, 250)); // the logger flushes every 100 ms
    const log = await readLog(h);
    expect(log).toContain('"msg":"admin request"');
    expect(issued.length).toBeGreaterThanOrEqual(5);
    for (const key of issued) expect(log).not.toContain(key);
    expect(log).not.toMatch(/gk_(live|test)_[0-9A-Za-z]{8}/);
    expect(log).not.toContain(TOKEN);
  });
});

describe('admin API refuses to start without a credential or off loopback', () => {
  const base = `listeners:\n  - { name: public, port: 0, tls: dev }\napis:\n  - name: t\n    openapi: ./api.yaml\n    upstream: { url: "https://127.0.0.1:1" }\n`;
  let dir: string;
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gh-admin-'));
    await writeFile(
      path.join(dir, 'api.yaml'),
      'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n',
    );
  });

  async function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
    const file = path.join(dir, `${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(file, base + yaml);
    const failure = await loadConfig(file, env).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConfigError);
    return (failure as Error).message;
  }

  it('an admin section without a token does not load', async () => {
    expect(await issuesOf('admin: { port: 0 }\n')).toMatch(/admin\.token .*"token" is missing/);
  });

  it('a token reference to an unset variable, or a short token, does not load', async () => {
    expect(await issuesOf('admin: { port: 0, token: env:NOPE_TOKEN }\n')).toMatch(
      /admin\.token .*NOPE_TOKEN is not set/,
    );
    expect(await issuesOf('admin: { port: 0, token: env:SHORT }\n', { SHORT: 'hunter2' })).toMatch(
      /admin\.token .*shorter than 32/,
    );
    expect(await issuesOf(`admin: { port: 0, token: "${TOKEN}" }\n`)).toMatch(
      /admin\.token .*not a secret reference/,
    );
  });

  it('a non-loopback host does not load', async () => {
    const message = await issuesOf(
      'admin: { host: 0.0.0.0, port: 0, token: env:GH_TEST_ADMIN_TOKEN }\n',
      process.env,
    );
    expect(message).toMatch(/admin\.host .*loopback only/);
    expect(
      await issuesOf('admin: { host: 10.0.0.5, port: 0, token: env:GH_TEST_ADMIN_TOKEN }\n', process.env),
    ).toMatch(/admin\.host/);
  });

  it('startAdminServer itself refuses a non-loopback host and an empty credential', async () => {
    const options = {
      tls: { cert: '', key: '' },
      limits: (await loadConfig(await writeOk(), process.env)).limits,
      services: null as never,
      scrapeToken: null,
      logger: pino({ level: 'silent' }),
    };
    await expect(
      startAdminServer({ ...options, config: { host: '0.0.0.0', port: 0, token: TOKEN } }),
    ).rejects.toThrow(AdminStartRefused);
    await expect(
      startAdminServer({ ...options, config: { host: '::', port: 0, token: TOKEN } }),
    ).rejects.toThrow(/loopback/);
    await expect(
      startAdminServer({ ...options, config: { host: '127.0.0.1', port: 0, token: ' ' } }),
    ).rejects.toThrow(/without an admin credential/);
  });

  async function writeOk(): Promise<string> {
    const file = path.join(dir, 'ok.yaml');
    await writeFile(file, base);
    return file;
  }
});
