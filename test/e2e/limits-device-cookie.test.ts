import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchResponse, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { expectProblem } from '../support/problems.js';
import { LOGIN_BODY_YAML, LOGIN_PATH_YAML } from '../support/apis.js';

// The test upstream answers POST /login 200 for the password "right" and 401 otherwise, and any
// /items/<id> with 200 {"id": "<id>"}: the second login's failedWhen makes /items/wrong a failure.
const deviceApi = `openapi: 3.1.0
info: { title: device cookies, version: 1.0.0 }
paths:
${LOGIN_PATH_YAML}  /items/{id}:
    post:
      x-gatehouse-public: true
      x-gatehouse-login:
        usernameField: username
        failedWhen: [ { pointer: /id, equals: wrong } ]
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
${LOGIN_BODY_YAML}      responses:
        '200': { description: a response the failedWhen test reads }
    get:
      x-gatehouse-public: true
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`;

// Two free failures per username, then a wait long enough to outlast the test.
const limitsYaml = `preAuthLimit:
  login:
    perAddress: { limit: 100, window: 1m }
    perUsername: { limit: 100, window: 1m }
    backoff: { freeFailures: 2, initialDelay: 1m, maxDelay: 5m }
`;

const DEVICE_SET_COOKIE =
  /^__Host-gatehouse-device=([A-Za-z0-9_-]{22})\.[0-9]+\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=2592000$/;

describe('login device cookies through the gateway', () => {
  let h: Harness;
  const agents: Agent[] = [];
  /** A client on an address of its own (loopback has them all). */
  const client = (address: string): Agent => {
    const agent = new Agent({ localAddress: address, connect: { ca: h.certs.caCert } });
    agents.push(agent);
    return agent;
  };
  const login = (
    agent: Agent,
    username: string,
    password: string,
    cookie: string | null = null,
    path = '/login',
  ): Promise<HttpResponse> =>
    fetchResponse(agent, `${h.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie === null ? {} : { cookie }) },
      body: JSON.stringify({ username, password }),
    });

  beforeAll(async () => {
    h = await startHarness({ openapi: deviceApi, extraYaml: limitsYaml });
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await h.close();
  });

  it('lets bob in from his device while failures from other clients lock his username, and keeps the cookie from the upstream', async () => {
    const hits = (): number => h.upstream.hits('/login');
    const failed = await login(h.agent, 'bob', 'wrong');
    expect(failed.status).toBe(401);
    expect(failed.headers['set-cookie']).toBeUndefined();
    const ok = await login(h.agent, 'bob', 'right');
    expect(ok.status).toBe(200);
    const setCookie = String(ok.headers['set-cookie']);
    const device = DEVICE_SET_COOKIE.exec(setCookie)?.[1];
    expect(device).toBeDefined();
    expect(setCookie).not.toContain('bob');
    const cookie = setCookie.split(';', 1)[0]!;
    // Only login answers carry it.
    const item = await h.get('/items/1', { headers: { cookie } });
    expect(item.status).toBe(200);
    expect(item.headers['set-cookie']).toBeUndefined();

    // A guessing run from three other addresses: two free failures, then bob's username waits.
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      expect((await login(client(address), 'bob', 'wrong')).status).toBe(401);
    }
    await sleep(50); // failures are counted when each response completes
    const start = hits();
    expectProblem(await login(client('127.0.0.5'), 'bob', 'right'), 429, 'limit-rate-exceeded');
    expectProblem(await login(h.agent, 'BOB', 'right'), 429, 'limit-rate-exceeded'); // bob's own address, no cookie
    expect(hits()).toBe(start);

    // Bob's browser, with its device cookie among others: in, and renewed for the same device.
    const mine = await login(h.agent, 'bob', 'right', `theme=dark; ${cookie}; lang=en`);
    expect(mine.status).toBe(200);
    expect(DEVICE_SET_COOKIE.exec(String(mine.headers['set-cookie']))?.[1]).toBe(device);
    expect(hits()).toBe(start + 1);
    const forwarded = h.upstream.received.at(-1)!;
    expect(forwarded.url).toBe('/login');
    expect(forwarded.headers.cookie).toBe('theme=dark; lang=en');
    expect(h.upstream.received.some((r) => String(r.headers.cookie).includes('gatehouse-device'))).toBe(
      false,
    );

    // The same cookie does nothing for another username, which it was not issued to.
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4'])
      await login(client(address), 'carol', 'wrong');
    await sleep(50);
    expectProblem(await login(h.agent, 'carol', 'right', cookie), 429, 'limit-rate-exceeded');
    expect(hits()).toBe(start + 4);
  });

  it('sets the cookie on a login whose failedWhen tests read the held answer as a success, and only then', async () => {
    const wrong = await login(h.agent, 'dana', 'x', null, '/items/wrong');
    expect(wrong.status).toBe(200); // a failure only the response's body tells
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const right = await login(h.agent, 'dana', 'x', null, '/items/dana');
    expect(right.status).toBe(200);
    expect(right.json()).toEqual({ id: 'dana', name: 'widget' });
    expect(String(right.headers['set-cookie'])).toMatch(DEVICE_SET_COOKIE);
  });

  it('asks the upstream for an uncompressed response only where a failedWhen test reads it', async () => {
    const agent = client('127.0.0.48');
    const send = (path: string): Promise<HttpResponse> =>
      fetchResponse(agent, `${h.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip, br' },
        body: JSON.stringify({ username: 'erin', password: 'right' }),
      });
    const read = await send('/items/erin');
    expect(read.status).toBe(200);
    expect(h.upstream.received.at(-1)!.url).toBe('/items/erin');
    expect(h.upstream.received.at(-1)!.headers['accept-encoding']).toBeUndefined();
    const plain = await send('/login');
    expect(plain.status).toBe(200);
    expect(h.upstream.received.at(-1)!.url).toBe('/login');
    expect(h.upstream.received.at(-1)!.headers['accept-encoding']).toBe('gzip, br');
  });
});
