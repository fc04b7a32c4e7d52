// The Notes example service reached directly, with no gateway in front: its legitimate flows work,
// and every weakness it is meant to carry is really there. The gateway's tests show the same attacks
// refused; this file proves there is something to refuse.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOpenApiDocument, OPENAPI_METHODS } from '../../src/contract/index.js';
import { startNotesService, type NotesService } from '../../examples/notes/service.mjs';

const SERVICE_FILE = fileURLToPath(new URL('../../examples/notes/service.mjs', import.meta.url));
const OPENAPI_FILE = fileURLToPath(new URL('../../examples/notes/openapi.yaml', import.meta.url));

interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  json(): unknown;
}

type Json = Record<string, unknown>;

describe('the notes example service, reached directly', () => {
  const secret = randomBytes(32).toString('base64url');
  let notes: NotesService;
  let aliceToken: string;
  let bobToken: string;

  const call = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string } = {},
  ): Promise<HttpResponse> => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(notes.url + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
  };
  const login = async (username: string, password: string): Promise<string> => {
    const response = await call('POST', '/login', { body: { username, password } });
    const token = (response.json() as Json)['token'];
    expect(typeof token, response.text).toBe('string');
    return token as string;
  };
  const hitsOf = (method: string, path: string): number =>
    notes.hits.filter((hit) => hit.method === method && hit.path === path).length;

  beforeAll(async () => {
    notes = await startNotesService({ secret });
    aliceToken = await login('alice', notes.users.alice);
    bobToken = await login('bob', notes.users.bob);
  });
  afterAll(async () => notes?.close());

  describe('its legitimate flows', () => {
    it('answers its health check without a token', async () => {
      const response = await call('GET', '/health');
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });

    it('generates the seed passwords at run time', async () => {
      const other = await startNotesService({ secret });
      try {
        expect(other.users.alice).toMatch(/^[\w-]{16}$/);
        expect(other.users.alice).not.toBe(notes.users.alice);
        expect(other.users.bob).not.toBe(notes.users.bob);
      } finally {
        await other.close();
      }
    });

    it('registers a user, who then logs in and gets an HS256 token for 900 seconds', async () => {
      const registered = await call('POST', '/users', {
        body: { username: 'carol', password: 'carol-password', email: 'carol@example.com' },
      });
      expect(registered.status).toBe(201);
      expect(registered.json()).toEqual({
        username: 'carol',
        email: 'carol@example.com',
        role: 'user',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });

      const response = await call('POST', '/login', {
        body: { username: 'carol', password: 'carol-password' },
      });
      expect(response.status).toBe(200);
      const body = response.json() as Json;
      expect(Object.keys(body).sort()).toEqual(['expiresIn', 'token']);
      expect(body['expiresIn']).toBe(900);
      const [header, claims] = decodeJwt(body['token'] as string, secret);
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'role', 'sub']);
      expect(claims).toMatchObject({ sub: 'carol', role: 'user' });
      expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(900);
    });

    it('refuses a second registration of the same username', async () => {
      const response = await call('POST', '/users', { body: { username: 'alice', password: 'taken-over' } });
      expect(response.status).toBe(409);
      expect(response.json()).toEqual({ message: 'username taken' });
    });

    it('lets a user write, list, read, search and delete their own notes', async () => {
      const created = await call('POST', '/users/alice/notes', {
        token: aliceToken,
        body: { title: 'Ideas', body: 'a 50% better gateway' },
      });
      expect(created.status).toBe(201);
      const note = created.json() as Json;
      expect(note).toEqual({
        id: expect.any(Number),
        owner: 'alice',
        title: 'Ideas',
        body: 'a 50% better gateway',
      });

      const list = await call('GET', '/users/alice/notes', { token: aliceToken });
      expect(list.status).toBe(200);
      expect((list.json() as Json[]).map((n) => n['title'])).toEqual(['Shopping list', 'Ideas']);

      const read = await call('GET', `/notes/${String(note['id'])}`, { token: aliceToken });
      expect(read.status).toBe(200);
      expect(read.json()).toEqual(note);

      const found = await call('GET', '/search?q=50%25', { token: aliceToken });
      expect(found.status).toBe(200);
      expect(found.json()).toEqual([note]);

      const deleted = await call('DELETE', `/notes/${String(note['id'])}`, { token: aliceToken });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await call('GET', `/notes/${String(note['id'])}`, { token: aliceToken })).status).toBe(404);
    });

    it("keeps its search to the caller's own notes, and treats the query as data", async () => {
      const mine = await call('GET', '/search?q=garage', { token: bobToken });
      expect((mine.json() as Json[]).map((n) => n['owner'])).toEqual(['bob']);
      expect((await call('GET', '/search?q=garage', { token: aliceToken })).json()).toEqual([]);
      const injected = await call('GET', `/search?q=${encodeURIComponent("' OR 1=1 --")}`, {
        token: bobToken,
      });
      expect(injected.status).toBe(200);
      expect(injected.json()).toEqual([]);
    });

    it('refuses a protected endpoint with 401 for a missing, forged, unsigned or expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const tokens = {
        missing: undefined,
        garbage: 'not-a-jwt',
        forged: signJwt(
          { alg: 'HS256', typ: 'JWT' },
          { sub: 'alice', role: 'admin', exp: now + 60 },
          'x'.repeat(32),
        ),
        unsigned: `${b64({ alg: 'none' })}.${b64({ sub: 'alice', exp: now + 60 })}.`,
        otherAlg: signJwt({ alg: 'HS512' }, { sub: 'alice', exp: now + 60 }, secret),
        expired: signJwt({ alg: 'HS256' }, { sub: 'alice', iat: now - 1000, exp: now - 100 }, secret),
        noExpiry: signJwt({ alg: 'HS256' }, { sub: 'alice' }, secret),
      };
      const before = hitsOf('GET', '/users/alice');
      for (const [kind, token] of Object.entries(tokens)) {
        const response = await call('GET', '/users/alice', token === undefined ? {} : { token });
        expect(response.status, kind).toBe(401);
        expect(response.json(), kind).toEqual({ message: 'unauthorized' });
      }
      // The service itself was reached every time: these refusals are its own.
      expect(hitsOf('GET', '/users/alice')).toBe(before + Object.keys(tokens).length);
    });

    it('answers an unknown route, or a known path with another method, with 404 not found', async () => {
      for (const [method, path] of [
        ['GET', '/admin'],
        ['PUT', '/notes/1'],
        ['GET', '/health/'],
      ] as const) {
        const response = await call(method, path, { token: aliceToken });
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.json()).toEqual({ message: 'not found' });
      }
    });

    it('records every request it receives, with its method and raw path', async () => {
      const before = notes.hits.length;
      await call('GET', '/health?probe=1');
      await call('GET', '/nowhere/caf%C3%A9');
      expect(notes.hits.slice(before)).toEqual([
        { method: 'GET', path: '/health' },
        { method: 'GET', path: '/nowhere/caf%C3%A9' },
      ]);
    });
  });

  describe('the weaknesses it carries on purpose', () => {
    it('answers a failed login with 200 and a message, not 401', async () => {
      for (const username of ['alice', 'nobody']) {
        const response = await call('POST', '/login', { body: { username, password: 'guess' } });
        expect(response.status).toBe(200);
        expect(response.json()).toEqual({ message: 'wrong password' });
      }
    });

    it('makes an admin of anyone who sends a role when registering (mass assignment)', async () => {
      const registered = await call('POST', '/users', {
        body: { username: 'mallory', password: 'mallory-password', email: 'm@example.com', role: 'admin' },
      });
      expect(registered.status).toBe(201);
      expect((registered.json() as Json)['role']).toBe('admin');
      const token = await login('mallory', 'mallory-password');
      expect(decodeJwt(token, secret)[1]['role']).toBe('admin');
      const profile = await call('GET', '/users/mallory', { token });
      expect((profile.json() as Json)['role']).toBe('admin');
    });

    it("lets bob read alice's note by its id (broken object-level authorization)", async () => {
      const [aliceNote] = (await call('GET', '/users/alice/notes', { token: aliceToken })).json() as Json[];
      const response = await call('GET', `/notes/${String(aliceNote!['id'])}`, { token: bobToken });
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({
        id: aliceNote!['id'],
        owner: 'alice',
        title: 'Shopping list',
        body: 'milk, eggs, coffee',
      });
    });

    it("lets bob list alice's notes, write into them and delete her note", async () => {
      const listed = await call('GET', '/users/alice/notes', { token: bobToken });
      expect(listed.status).toBe(200);
      expect((listed.json() as Json[]).every((n) => n['owner'] === 'alice')).toBe(true);

      const planted = await call('POST', '/users/alice/notes', {
        token: bobToken,
        body: { title: 'from bob', body: 'alice never wrote this' },
      });
      expect(planted.status).toBe(201);
      const id = String((planted.json() as Json)['id']);
      expect((await call('GET', `/notes/${id}`, { token: aliceToken })).json()).toMatchObject({
        owner: 'alice',
      });

      expect((await call('DELETE', `/notes/${id}`, { token: bobToken })).status).toBe(204);
      expect((await call('GET', `/notes/${id}`, { token: aliceToken })).status).toBe(404);
    });

    it('returns the first user for SQL in the username path parameter (injection)', async () => {
      const response = await call('GET', "/users/x'%20OR%20'1'='1", { token: bobToken });
      expect(response.status).toBe(200);
      expect((response.json() as Json)['username']).toBe('alice');

      const union = await call(
        'GET',
        `/users/${encodeURIComponent("x' UNION SELECT 'leak', sqlite_version(), 'admin', 'h', 'now' --")}`,
        { token: bobToken },
      );
      expect(union.status).toBe(200);
      expect(union.json()).toMatchObject({ username: 'leak', role: 'admin' });
    });

    it('sends the password hash with a user record (excessive data exposure)', async () => {
      const response = await call('GET', '/users/bob', { token: aliceToken });
      expect(response.status).toBe(200);
      const body = response.json() as Json;
      expect(Object.keys(body).sort()).toEqual(['createdAt', 'email', 'passwordHash', 'role', 'username']);
      expect(body['passwordHash']).toMatch(/^scrypt\$[\w+/=]+\$[\w+/=]+$/);
    });

    it('shows its JWT secret to anyone at /debug/config, enough to forge an admin token', async () => {
      const response = await call('GET', '/debug/config');
      expect(response.status).toBe(200);
      const body = response.json() as { env: Record<string, string>; version: string };
      const leaked = body.env['NOTES_JWT_SECRET'] ?? '';
      expect(leaked).toBe(secret);
      expect(body.version).toBe('1.4.2');

      const now = Math.floor(Date.now() / 1000);
      const forged = signJwt(
        { alg: 'HS256', typ: 'JWT' },
        { sub: 'bob', role: 'admin', iat: now, exp: now + 60 },
        leaked,
      );
      expect((await call('GET', '/users/alice', { token: forged })).status).toBe(200);
    });

    it('answers malformed JSON with 500 and its stack trace', async () => {
      const response = await call('POST', '/users', { rawBody: '{"username": ' });
      expect(response.status).toBe(500);
      const { error } = response.json() as { error: string };
      expect(error).toMatch(/^SyntaxError: /);
      expect(error).toMatch(/\n\s+at .*service\.mjs:\d+:\d+/);
    });

    it('answers a broken SQL query with 500 and the database error', async () => {
      const response = await call('GET', "/users/o'brien", { token: aliceToken });
      expect(response.status).toBe(500);
      // better-sqlite3 names its errors SqliteError, node:sqlite plain Error: the leak is the same.
      expect((response.json() as { error: string }).error).toMatch(
        /^(Sqlite)?Error: near "brien": syntax error\n\s+at /,
      );
    });

    it('names itself in an X-Powered-By header', async () => {
      expect((await call('GET', '/health')).headers.get('x-powered-by')).toBe('notes/1.4.2');
    });
  });
});

describe("the notes example's published OpenAPI document", () => {
  it('loads in the gateway as valid OpenAPI 3.1, with every endpoint and no security at all', async () => {
    const document = (await loadOpenApiDocument(OPENAPI_FILE)) as unknown as {
      openapi: string;
      paths: Record<string, Record<string, { operationId?: string }>>;
      components: Record<string, unknown>;
    };
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => (OPENAPI_METHODS as readonly string[]).includes(method))
        .map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation.operationId]),
    );
    expect(Object.fromEntries(operations)).toEqual({
      'GET /health': 'getHealth',
      'GET /debug/config': 'getDebugConfig',
      'POST /login': 'login',
      'POST /users': 'registerUser',
      'GET /users/{username}': 'getUser',
      'GET /users/{username}/notes': 'listUserNotes',
      'POST /users/{username}/notes': 'createUserNote',
      'GET /notes/{id}': 'getNote',
      'DELETE /notes/{id}': 'deleteNote',
      'GET /search': 'searchNotes',
    });
    // As loose as the vendor wrote it: the gateway's overlay, not this file, must tighten it.
    const keys = [...allKeys(document)];
    for (const absent of ['security', 'securitySchemes', 'pattern', 'maxLength', 'passwordHash']) {
      expect(keys, absent).not.toContain(absent);
    }
    expect(JSON.stringify(document)).not.toContain('"additionalProperties":false');
    const schemas = document.components['schemas'] as Record<string, { properties: Json }>;
    expect(Object.keys(schemas['Registration']!.properties).sort()).toEqual([
      'email',
      'password',
      'username',
    ]);
    expect(Object.keys(schemas['User']!.properties).sort()).toEqual([
      'createdAt',
      'email',
      'role',
      'username',
    ]);
  });
});

describe('the notes example service, run directly', () => {
  it('refuses to start without NOTES_JWT_SECRET, or with one shorter than 32 bytes', async () => {
    for (const env of [{}, { NOTES_JWT_SECRET: 'x'.repeat(31) }]) {
      const run = await runService(env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('set NOTES_JWT_SECRET to a secret of at least 32 bytes');
      expect(run.stdout).toBe('');
    }
  });

  it('listens on 127.0.0.1 at PORT and logs one line', async () => {
    const child = spawn(process.execPath, [SERVICE_FILE], {
      env: { PATH: process.env['PATH'] ?? '', NOTES_JWT_SECRET: randomBytes(32).toString('hex'), PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${String(code)}: ${out}`)));
      });
      const match =
        /^notes 1\.4\.2 listening on (http:\/\/127\.0\.0\.1:\d+) \(seed users: alice \/ \S+, bob \/ \S+\)\n$/.exec(
          line,
        );
      expect(match, line).not.toBeNull();
      const health = await fetch(`${match![1]!}/health`);
      expect(await health.json()).toEqual({ status: 'ok' });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});

function runService(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVICE_FILE], {
      env: { PATH: process.env['PATH'] ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function signJwt(header: Json, claims: Json, key: string): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** Checks the HS256 signature with `key` and returns the decoded header and claims. */
function decodeJwt(token: string, key: string): [Json, Json] {
  const [header = '', claims = '', signature] = token.split('.');
  expect(signature).toBe(createHmac('sha256', key).update(`${header}.${claims}`).digest('base64url'));
  const decode = (part: string): Json => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Json;
  return [decode(header), decode(claims)];
}

function allKeys(value: unknown, keys = new Set<string>()): Set<string> {
  if (typeof value !== 'object' || value === null) return keys;
  for (const [key, child] of Object.entries(value)) {
    keys.add(key);
    allKeys(child, keys);
  }
  return keys;
}
