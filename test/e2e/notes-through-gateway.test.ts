// The worked example of docs/existing-apis.md: the Notes service (examples/notes), which was not
// built for a gateway, behind Gatehouse with only its published document, the operator's overlay
// and the configuration. Each attack the service falls for directly (notes-service.test.ts) is
// refused here, with the upstream not reached (or its response not shown); each legitimate flow works.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNotesService, type NotesService } from '../../examples/notes/service.mjs';
import { loadConfig } from '../../src/config/index.js';
import { configWarnings } from '../../src/config/warnings.js';
import { createLogger } from '../../src/observe/logger.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse, type HttpResponse } from '../support/gateway-harness.js';
import { expectProblem } from '../support/problems.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/notes/', import.meta.url));
type Json = Record<string, unknown>;

/** A validation refusal: its problem type, and the field it names (never the value sent). */
function expectRefusedField(response: HttpResponse, type: string, field: string): void {
  expect(response.status).toBe(400);
  const body = response.json() as { type: string; errors: { field: string }[] };
  expect(body.type).toBe(`https://gatehouse.dev/problems/${type}`);
  expect(body.errors.map((e) => e.field)).toContain(field);
}

describe('the Notes example behind Gatehouse, protected by an overlay and the configuration only', () => {
  const secret = randomBytes(32).toString('base64url');
  let dir: string;
  let notes: NotesService;
  let gateway: Gatehouse;
  let agent: Agent;
  let base: string;
  let warnings: string[];
  let aliceToken: string;
  let bobToken: string;

  const call = (
    method: string,
    target: string,
    options: { token?: string; body?: unknown; raw?: string } = {},
  ): Promise<HttpResponse> => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetchResponse(agent, base + target, { method, headers, ...(body === undefined ? {} : { body }) });
  };
  const hits = (method: string, prefix: string): number =>
    notes.hits.filter((hit) => hit.method === method && hit.path.startsWith(prefix)).length;
  const exactHits = (method: string, target: string): number =>
    notes.hits.filter((hit) => hit.method === method && hit.path === target).length;
  const login = async (username: string, password: string): Promise<string> => {
    const response = await call('POST', '/login', { body: { username, password } });
    expect(response.status, response.text).toBe(200);
    return (response.json() as Json)['token'] as string;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-notes-'));
    notes = await startNotesService({ secret });
    // The example's own files, as shipped; only the addresses, the state and the log differ.
    for (const file of ['openapi.yaml', 'notes.overlay.yaml'])
      await copyFile(path.join(EXAMPLE, file), path.join(dir, file));
    const shipped = await readFile(path.join(EXAMPLE, 'gatehouse.yaml'), 'utf8');
    const yaml = shipped
      .replace('stateDir: ../../.gatehouse/notes', 'stateDir: ./state')
      .replace('port: 8443', 'port: 0')
      .replace('url: http://127.0.0.1:8081', `url: ${notes.url}`)
      .replace('access: true', `access: true\n  destination: ${path.join(dir, 'access.log')}`);
    expect(yaml).not.toBe(shipped);
    await writeFile(path.join(dir, 'gatehouse.yaml'), yaml);
    const config = await loadConfig(path.join(dir, 'gatehouse.yaml'), { NOTES_JWT_SECRET: secret });
    warnings = configWarnings(config);
    gateway = await startGatehouse(config, createLogger(config.log));
    const certs = await ensureDevCertificates(path.join(dir, 'state'));
    agent = new Agent({ connect: { ca: certs.caCert } });
    base = `https://127.0.0.1:${gateway.addresses.get('public')!.port}`;
    aliceToken = await login('alice', notes.users.alice);
    bobToken = await login('bob', notes.users.bob);
  });
  afterAll(async () => {
    await agent?.close();
    await gateway?.close(500);
    await notes?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('every legitimate flow still works', () => {
    it('health, registration and login of a new user', async () => {
      expect((await call('GET', '/health')).json()).toEqual({ status: 'ok' });
      const password = randomBytes(12).toString('base64url');
      const created = await call('POST', '/users', {
        body: { username: 'carol', password, email: 'carol@example.com' },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.json()).toMatchObject({ username: 'carol', role: 'user' });
      expect(await login('carol', password)).toMatch(/^ey/);
    });

    it('a user reads her profile, lists, adds, reads and searches her notes', async () => {
      const profile = await call('GET', '/users/alice', { token: aliceToken });
      expect(profile.status).toBe(200);
      expect(profile.json()).toMatchObject({ username: 'alice', role: 'user' });
      const added = await call('POST', '/users/alice/notes', {
        token: aliceToken,
        body: { title: 'groceries', body: 'oat milk and quinces' },
      });
      expect(added.status, added.text).toBe(201);
      const id = (added.json() as Json)['id'] as number;
      const read = await call('GET', `/notes/${id}`, { token: aliceToken });
      expect(read.json()).toEqual({ id, owner: 'alice', title: 'groceries', body: 'oat milk and quinces' });
      const list = await call('GET', '/users/alice/notes', { token: aliceToken });
      expect((list.json() as Json[]).map((n) => n['title'])).toContain('groceries');
      const found = await call('GET', '/search?q=quinces', { token: aliceToken });
      expect((found.json() as Json[]).map((n) => n['id'])).toEqual([id]);
    });

    it('passes the verified token on to the service, which checks it itself', async () => {
      const before = hits('GET', '/users/bob');
      expect((await call('GET', '/users/bob', { token: bobToken })).status).toBe(200);
      expect(hits('GET', '/users/bob')).toBe(before + 1);
    });

    it('check-config warns of the shared secret, the missing claims and the plain sidecar hop', () => {
      expect(warnings.join('\n')).toMatch(/shared secret/);
      expect(warnings.join('\n')).toMatch(/without iss/);
      expect(warnings.join('\n')).toMatch(/plain http:\/\/ to a loopback address/);
    });
  });

  describe('every attack the service falls for is refused', () => {
    it('another user’s profile and notes, by path', async () => {
      const before = hits('GET', '/users/alice');
      const writes = hits('POST', '/users/alice');
      for (const target of ['/users/alice', '/users/alice/notes']) {
        expectProblem(await call('GET', target, { token: bobToken }), 403, 'auth-forbidden');
      }
      const write = await call('POST', '/users/alice/notes', { token: bobToken, body: { title: 'pwned' } });
      expectProblem(write, 403, 'auth-forbidden');
      expect(hits('GET', '/users/alice')).toBe(before);
      expect(hits('POST', '/users/alice')).toBe(writes);
    });

    it('another user’s note, known only from the answer: the same 404 as a note that does not exist', async () => {
      const mine = await call('POST', '/users/alice/notes', { token: aliceToken, body: { title: 'secret' } });
      const id = (mine.json() as Json)['id'] as number;
      const theirs = await call('GET', `/notes/${id}`, { token: bobToken });
      const missing = await call('GET', '/notes/999999', { token: bobToken });
      expectProblem(theirs, 404, 'object-not-found');
      expectProblem(missing, 404, 'object-not-found');
      expect(theirs.text).not.toContain('secret');
      const strip = (a: HttpResponse) => ({ ...(a.json() as Json), instance: null });
      expect(strip(theirs)).toEqual(strip(missing));
      // The service was asked (only it knows the owner); its response never left the gateway.
      expect(hits('GET', `/notes/${id}`)).toBe(1);
    });

    it('deleting a note, which has no answer to read the owner from: admins only', async () => {
      const before = hits('DELETE', '/notes/');
      expectProblem(await call('DELETE', '/notes/1', { token: bobToken }), 403, 'auth-forbidden');
      expect(hits('DELETE', '/notes/')).toBe(before);
    });

    it('mass assignment: a registration that sets its own role', async () => {
      const response = await call('POST', '/users', {
        body: { username: 'mallory', password: 'a-long-password-1', role: 'admin' },
      });
      expectRefusedField(response, 'validate-body', 'role');
      expect(exactHits('POST', '/users')).toBe(1); // carol's, above
    });

    it('the debug endpoint that leaks the secret is not served', async () => {
      const response = await call('GET', '/debug/config');
      expectProblem(response, 404, 'route-not-found');
      expect(response.text).not.toContain(secret);
      expect(hits('GET', '/debug')).toBe(0);
    });

    it('an injection in a path parameter', async () => {
      const before = notes.hits.length;
      // The service concatenates the username into its SQL; here the caller is not that user anyway.
      const asUser = await call('GET', "/users/x'%20OR%20'1'='1", { token: bobToken });
      expectProblem(asUser, 403, 'auth-forbidden');
      // Where no owner condition stands in the way, the parameter's schema does.
      const asId = await call('GET', '/notes/1%20OR%201=1', { token: bobToken });
      expectRefusedField(asId, 'validate-parameter', 'path.id');
      expect(asId.text).not.toContain('OR 1');
      expect(notes.hits.length).toBe(before);
    });

    it('undeclared answer fields: the password hash and the X-Powered-By header', async () => {
      const response = await call('GET', '/users/bob', { token: bobToken });
      expect(response.status).toBe(200);
      expect(Object.keys(response.json() as Json).sort()).toEqual(['createdAt', 'email', 'role', 'username']);
      expect(response.headers['x-powered-by']).toBeUndefined();
    });

    it('a token signed with another secret, and one that is not a token', async () => {
      const before = notes.hits.length;
      const forged = aliceToken.slice(0, aliceToken.lastIndexOf('.') + 1) + 'A'.repeat(43);
      expectProblem(await call('GET', '/users/alice', { token: forged }), 401, 'auth-unauthenticated');
      expectProblem(await call('GET', '/users/alice', { token: 'junk' }), 401, 'auth-unauthenticated');
      expect(notes.hits.length).toBe(before);
    });

    it('brute force on a login that fails with 200: counted, then refused before the service', async () => {
      let first429 = -1;
      let reason = '';
      for (let i = 0; i < 15 && first429 < 0; i += 1) {
        const response = await call('POST', '/login', { body: { username: 'bob', password: `guess-${i}` } });
        if (response.status === 429) {
          first429 = i;
          reason = gateway.journeys.find(String(response.headers['x-request-id']))?.reason ?? '';
        } else expect(response.json()).toEqual({ message: 'wrong password' });
      }
      // Three failures are free (backoff.freeFailures); after the fourth, the next attempt waits.
      // Without failedWhen these 200s would count as successes: no backoff, only the rate limits.
      expect(first429).toBe(4);
      expect(reason).toMatch(/^backoff policy "login" refused/);
      const before = hits('POST', '/login');
      const blocked = await call('POST', '/login', { body: { username: 'bob', password: notes.users.bob } });
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBeDefined();
      expect(hits('POST', '/login')).toBe(before);
      const failed = gateway.monitor.events.query({
        after: null,
        before: null,
        since: null,
        types: new Set(['login.failed'] as const),
        address: null,
        consumer: null,
        limit: 100,
      }).events;
      expect(failed.length).toBeGreaterThanOrEqual(first429);
    });
  });
});
