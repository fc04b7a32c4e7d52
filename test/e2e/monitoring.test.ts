import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertSignature } from '../../src/observe/alerts.js';
import {
  fetchResponse,
  readLog,
  startHarness,
  type HttpResponse,
  type Harness,
} from '../support/gateway-harness.js';
import { expectProblem } from '../support/problems.js';
import { LOGIN_PATH_YAML } from '../support/apis.js';

const ADMIN_TOKEN = randomBytes(32).toString('hex');
const SCRAPE_TOKEN = randomBytes(32).toString('hex');
const ALERT_SECRET = randomBytes(32).toString('hex');
process.env.GH_TEST_MONITOR_ADMIN_TOKEN = ADMIN_TOKEN;
process.env.GH_TEST_MONITOR_SCRAPE_TOKEN = SCRAPE_TOKEN;
process.env.GH_TEST_MONITOR_ALERT_SECRET = ALERT_SECRET;

const OPENAPI = `openapi: 3.1.0
info: { title: monitored, version: 1.0.0 }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { key: [items:read] } ]
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, maxLength: 64 } }
      responses:
        '200': { description: an item }
        '404': { description: no such item }
  /public/items/{id}:
    get:
      x-gatehouse-public: true
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, maxLength: 64 } }
      responses:
        '200': { description: an item }
        '404': { description: no such item }
${LOGIN_PATH_YAML}`;

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface EventView {
  id: number;
  type: string;
  requestId: string | null;
  address: string | null;
  consumer: string | null;
  credentialId: string | null;
  operation: string | null;
  code: string | null;
  reason: string | null;
  data: Record<string, unknown> | null;
}

/** An alert receiver on loopback: keeps what it is sent, answers 503 to the first `failFirst` posts. */
async function startReceiver(
  failFirst: number,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  let failures = failFirst;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (failures > 0) {
        failures -= 1;
        res.writeHead(503).end();
        return;
      }
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function promtool(): string | null {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    return null;
  }
}

/** The value of one sample in Prometheus text, 0 when the series is absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('monitoring: metrics, health, events, journeys, detectors, alerts and bans', () => {
  let h: Harness;
  let admin: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const call = (
    method: string,
    route: string,
    init: { token?: string | null; body?: unknown } = {},
  ): Promise<HttpResponse> => {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? ADMIN_TOKEN : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (init.body === undefined) return fetchResponse(h.agent, admin + route, { method, headers });
    headers['content-type'] = 'application/json';
    return fetchResponse(h.agent, admin + route, { method, headers, body: JSON.stringify(init.body) });
  };
  const metrics = async (): Promise<string> => (await call('GET', '/metrics')).text;
  const events = async (query: string): Promise<EventView[]> => {
    const response = await call('GET', `/events?${query}`);
    expect(response.status).toBe(200);
    return (response.json() as { events: EventView[] }).events;
  };
  const createKey = async (consumer: string): Promise<{ key: string; id: string }> => {
    const response = await call('POST', '/keys', { body: { consumer, scopes: ['items:read'] } });
    expect(response.status).toBe(201);
    const created = response.json() as { key: string; record: { id: string } };
    return { key: created.key, id: created.record.id };
  };
  const eventsFile = (): Promise<string> =>
    readFile(path.join(h.dir, 'state', 'security-events.log'), 'utf8').catch(() => '');

  beforeAll(async () => {
    receiver = await startReceiver(1);
    h = await startHarness({
      openapi: OPENAPI,
      extraYaml:
        'keys:\n  sync: { pollMs: 100 }\n' +
        'admin:\n  port: 0\n  token: env:GH_TEST_MONITOR_ADMIN_TOKEN\n' +
        'monitoring:\n' +
        '  scrapeToken: env:GH_TEST_MONITOR_SCRAPE_TOKEN\n' +
        '  probeInterval: 200ms\n' +
        '  detectors:\n' +
        '    enumeration: { threshold: 5, window: 1m, actions: [ban], banFor: 1m }\n' +
        '    failedLoginsPerAddress: { threshold: 4, window: 1m, actions: [alert] }\n' +
        '    failedLoginsPerUsername: { enabled: false }\n' +
        '    credentialStuffing: { enabled: false }\n' +
        '    plaintextCredential: { actions: [ban] }\n' +
        '  alerts:\n' +
        `    webhook: { url: "${receiver.url}", secret: env:GH_TEST_MONITOR_ALERT_SECRET, retries: 2 }\n` +
        'preAuthLimit:\n  login:\n    perAddress: { limit: 100, window: 1m, burst: 100 }\n' +
        '    perUsername: { limit: 100, window: 1m, burst: 100 }\n' +
        '    backoff: { freeFailures: 100, initialDelay: 1s, maxDelay: 1s, forgetAfter: 1m }\n',
    });
    const address = h.gateway.adminAddress!;
    admin = `https://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
  });

  it('answers /livez and /readyz without a credential, with status words and nothing internal', async () => {
    const live = await call('GET', '/livez', { token: null });
    expect(live.status).toBe(200);
    expect(live.json()).toEqual({ status: 'live' });
    let ready = await call('GET', '/readyz', { token: null });
    for (let i = 0; i < 50 && ready.status !== 200; i += 1) {
      await sleep(50);
      ready = await call('GET', '/readyz', { token: null });
    }
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { config: 'ok', keys: 'ok', upstreams: 'ok' } });
    expect(ready.text).not.toContain(String(h.upstream.port));
  });

  it('refuses /metrics, /events and /journeys without the admin token; a scrape token reads /metrics only', async () => {
    for (const route of ['/metrics', '/events', '/journeys/00000000-0000-4000-8000-000000000000', '/bans']) {
      const refused = await call('GET', route, { token: null });
      expectProblem(refused, 401, 'admin-unauthorized');
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="gatehouse-admin"');
      expect(refused.text).not.toContain('gatehouse_');
    }
    const scraped = await call('GET', '/metrics', { token: SCRAPE_TOKEN });
    expect(scraped.status).toBe(200);
    expect(scraped.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(scraped.text).toContain('# TYPE gatehouse_requests_total counter');
    expectProblem(await call('GET', '/events', { token: SCRAPE_TOKEN }), 401, 'admin-unauthorized');
    const refusedEvents = await events('type=admin.refused');
    expect(refusedEvents.length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(refusedEvents)).not.toContain(SCRAPE_TOKEN);
  });

  it('counts five refusals for a missing credential exactly five times, and the upstream never sees them', async () => {
    const series = 'gatehouse_refusals_total{threat="fake-callers",code="GH_AUTH_UNAUTHENTICATED"}';
    const before = sample(await metrics(), series);
    const hits = h.upstream.hits('/items/');
    for (let i = 0; i < 5; i += 1) expectProblem(await h.get(`/items/${i}`), 401, 'auth-unauthenticated');
    await sleep(20);
    const after = await metrics();
    expect(sample(after, series) - before).toBe(5);
    expect(h.upstream.hits('/items/')).toBe(hits);
    expect(
      sample(
        after,
        'gatehouse_requests_total{api="test",operation="/items/{id}",method="GET",status="401",stage="authenticate",code="GH_AUTH_UNAUTHENTICATED"}',
      ),
    ).toBeGreaterThanOrEqual(5);
    expect(after).toMatch(
      /^gatehouse_request_duration_seconds_bucket\{api="test",operation="\/items\/\{id\}",method="GET",le="\+Inf"\} \d+$/m,
    );
    expect(after).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(after).toMatch(/^gatehouse_upstream_up\{api="test"\} 1$/m);
  });

  it.skipIf(promtool() === null && process.env.CI === undefined)(
    'passes promtool check metrics',
    async () => {
      expect(promtool(), 'promtool (Debian package prometheus) is installed by .ci/run').not.toBeNull();
      await h.get('/public/items/1');
      const text = await metrics();
      const lint = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint).toBe('');
    },
  );

  it('finds the journey of a refused request by its X-Request-Id, and its security event', async () => {
    const refused = await h.get('/items/7', { headers: { 'x-api-key': 'gk_live_notakey' } });
    expectProblem(refused, 401, 'auth-unauthenticated');
    const id = String(refused.headers['x-request-id']);
    const response = await call('GET', `/journeys/${id}`);
    expect(response.status).toBe(200);
    const { journey } = response.json() as { journey: Record<string, unknown> };
    expect(journey).toMatchObject({
      requestId: id,
      method: 'GET',
      route: '/items/{id}',
      api: 'test',
      decidedBy: 'authenticate',
      code: 'GH_AUTH_UNAUTHENTICATED',
      status: 401,
      consumer: null,
    });
    expect(journey.passed).toEqual(['transport', 'route', 'pre-auth-limit']);
    expect(String(journey.reason)).toMatch(/api-key/);
    expect(JSON.stringify(journey)).not.toContain('gk_live_notakey');
    const [event] = await events(`type=auth.refused&limit=1`);
    expect(event).toMatchObject({
      type: 'auth.refused',
      requestId: id,
      operation: '/items/{id}',
      code: 'GH_AUTH_UNAUTHENTICATED',
    });
    expectProblem(
      await call('GET', '/journeys/00000000-0000-4000-8000-000000000000'),
      404,
      'admin-not-found',
    );
    expectProblem(await call('GET', '/journeys/not-an-id'), 400, 'admin-bad-request');
  });

  it('names the consumer and key id of an authenticated request in the access log; no log holds the key', async () => {
    const { key, id } = await createKey('shop-app');
    const served = await h.get('/items/42', { headers: { 'x-api-key': key } });
    expect(served.status).toBe(200);
    const requestId = String(served.headers['x-request-id']);
    await sleep(250);
    const line = (await readLog(h)).split('\n').find((l) => l.includes(requestId))!;
    expect(JSON.parse(line)).toMatchObject({
      msg: 'request',
      status: 200,
      consumer: 'shop-app',
      subject: 'shop-app',
      credential: 'api-key',
      credentialId: id,
      bytesIn: 0,
    });
    const logged = JSON.parse(line) as { bytesOut: number; upstreamMs: number };
    expect(logged.bytesOut).toBeGreaterThan(100);
    expect(logged.upstreamMs).toBeGreaterThan(0);
    const created = await events('type=key.created&limit=1');
    expect(created[0]).toMatchObject({ consumer: 'shop-app', credentialId: id });
    const metricsText = await metrics();
    expect(
      sample(
        metricsText,
        `gatehouse_credential_requests_total{consumer="shop-app",kind="api-key",credential_id="${id}"}`,
      ),
    ).toBe(1);
    for (const text of [await readLog(h), await eventsFile(), metricsText]) expect(text).not.toContain(key);
  });

  it('bans an address through the admin API: 403 before the upstream, listed, lifted on DELETE', async () => {
    const set = await call('POST', '/bans', {
      body: { kind: 'address', value: '127.0.0.1', duration: '1m', reason: 'test' },
    });
    expect(set.status).toBe(201);
    const { ban } = set.json() as { ban: { id: string; kind: string; value: string } };
    expect(ban).toMatchObject({ kind: 'address', value: '127.0.0.1' });
    const hits = h.upstream.hits('/public/');
    expectProblem(await h.get('/public/items/1'), 403, 'access-banned');
    expect(h.upstream.hits('/public/')).toBe(hits);
    expect(((await call('GET', '/bans')).json() as { bans: { id: string }[] }).bans.map((b) => b.id)).toEqual(
      [ban.id],
    );
    expect((await call('DELETE', `/bans/${ban.id}`)).status).toBe(200);
    expect((await h.get('/public/items/1')).status).toBe(200);
    expectProblem(await call('DELETE', `/bans/${ban.id}`), 404, 'admin-not-found');
    expect((await events('type=ban.set,ban.lifted&limit=2')).map((e) => e.type)).toEqual([
      'ban.lifted',
      'ban.set',
    ]);
    expectProblem(
      await call('POST', '/bans', { body: { kind: 'planet', value: 'x', duration: '1m' } }),
      400,
      'admin-bad-request',
    );
  });

  it('detects an id enumeration (many distinct ids answered 404) and bans the caller', async () => {
    for (let i = 0; i < 5; i += 1) expect((await h.get(`/public/items/missing-${i}`)).status).toBe(404);
    const [fired] = await events('type=detector.fired&limit=1');
    expect(fired).toMatchObject({ address: '127.0.0.1' });
    expect(fired!.data).toMatchObject({
      detector: 'enumeration',
      subjectKind: 'address',
      count: 5,
      shadow: false,
    });
    const [ban] = await events('type=ban.set&limit=1');
    expect(ban!.data).toMatchObject({ kind: 'address', value: '127.0.0.1', source: 'detector:enumeration' });
    const hits = h.upstream.hits('/public/');
    expectProblem(await h.get('/public/items/1'), 403, 'access-banned');
    expect(h.upstream.hits('/public/')).toBe(hits);
    expect((await call('DELETE', `/bans/${String(ban!.data!.banId)}`)).status).toBe(200);
    expect((await h.get('/public/items/1')).status).toBe(200);
  });

  it('alerts a failed-login flood on a signed webhook, retried after a 503, once per subject', async () => {
    const login = (password: string): Promise<HttpResponse> =>
      h.get('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'bob', password }),
      });
    for (let i = 0; i < 6; i += 1) expect((await login(`wrong-${i}`)).status).toBe(401);
    const failed = await events('type=login.failed&limit=6');
    expect(failed).toHaveLength(6);
    expect(failed[0]!.data).toMatchObject({ username: 'bob' });
    expect(JSON.stringify(failed)).not.toContain('wrong-');
    for (let i = 0; i < 60 && receiver.received.length === 0; i += 1) await sleep(50);
    expect(receiver.received).toHaveLength(1);
    const [alert] = receiver.received;
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(alert!.headers['gatehouse-signature']));
    expect(signature).not.toBeNull();
    expect(signature![2]).toBe(alertSignature(ALERT_SECRET, Number(signature![1]), alert!.body));
    expect(JSON.parse(alert!.body)).toMatchObject({
      detector: 'failed-logins-per-address',
      subjectKind: 'address',
      subject: '127.0.0.1',
      count: 4,
      banId: null,
    });
    await sleep(700);
    expect(receiver.received).toHaveLength(1);
    expect(await readLog(h)).toContain('"msg":"alert delivered"');
  });

  it('treats an API key sent to the TLS port in plaintext as exposed: event, and the key banned', async () => {
    const { key, id } = await createKey('leaky-app');
    expect((await h.get('/items/1', { headers: { 'x-api-key': key } })).status).toBe(200);
    const served = h.upstream.hits('/items/');
    const plain = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(h.port, '127.0.0.1', () =>
        socket.write(`GET /items/1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${key}\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(plain).toMatch(/^HTTP\/1\.1 400 /);
    // The generic problem, and nothing of what was sent (the key least of all).
    expect(plain).toContain('"type":"https://gatehouse.dev/problems/transport-plaintext"');
    expect(plain).not.toContain(key);
    expect(h.upstream.hits('/items/')).toBe(served);
    const [exposed] = await events('type=credential.exposed&limit=1');
    expect(exposed).toMatchObject({ credentialId: id, address: '127.0.0.1' });
    const [ban] = await events('type=ban.set&limit=1');
    expect(ban!.data).toMatchObject({ kind: 'key', value: id, source: 'detector:plaintext-credential' });
    const hits = h.upstream.hits('/items/');
    expectProblem(await h.get('/items/1', { headers: { 'x-api-key': key } }), 403, 'access-banned');
    expect(h.upstream.hits('/items/')).toBe(hits);
    await sleep(250);
    expect(await eventsFile()).not.toContain(key);
  });

  it('pages through events newest first and follows them with ?after=', async () => {
    const newest = await call('GET', '/events?limit=2');
    const page = newest.json() as { events: EventView[]; next: number; lastId: number };
    expect(page.events).toHaveLength(2);
    expect(page.events[0]!.id).toBe(page.lastId);
    expect(page.next).toBe(page.events[1]!.id);
    const older = (await call('GET', `/events?limit=2&before=${page.next}`)).json() as {
      events: EventView[];
    };
    expect(older.events[0]!.id).toBeLessThan(page.next);
    const following = (await call('GET', `/events?after=${page.lastId - 1}`)).json() as {
      events: EventView[];
    };
    expect(following.events.map((e) => e.id)).toEqual([page.lastId]);
    expectProblem(await call('GET', '/events?type=nonsense'), 400, 'admin-bad-request');
    expectProblem(await call('GET', '/events?limit=0'), 400, 'admin-bad-request');
  });
});

describe('readiness when an upstream cannot be reached', () => {
  let h: Harness;
  beforeAll(async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    h = await startHarness({
      upstreamUrl: `https://127.0.0.1:${port}`,
      extraYaml:
        'admin:\n  port: 0\n  token: env:GH_TEST_MONITOR_ADMIN_TOKEN\nmonitoring:\n  probeInterval: 100ms\n',
    });
  });
  afterAll(async () => h?.close());

  it('answers /readyz 503 not-ready, naming the check and not the upstream; /livez stays 200', async () => {
    const admin = `https://127.0.0.1:${h.gateway.adminAddress!.port}`;
    let ready = await fetchResponse(h.agent, `${admin}/readyz`, {});
    for (
      let i = 0;
      i < 50 && (ready.json() as { checks: { upstreams: string } }).checks.upstreams === 'pending';
      i += 1
    ) {
      await sleep(50);
      ready = await fetchResponse(h.agent, `${admin}/readyz`, {});
    }
    expect(ready.status).toBe(503);
    expect(ready.json()).toEqual({
      status: 'not-ready',
      checks: { config: 'ok', keys: 'ok', upstreams: 'failing' },
    });
    expect((await fetchResponse(h.agent, `${admin}/livez`, {})).status).toBe(200);
    const metrics = await fetchResponse(h.agent, `${admin}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(metrics.text).toMatch(/^gatehouse_upstream_up\{api="test"\} 0$/m);
  });
});

describe.skipIf(process.env.REDIS_URL === undefined)('bans shared by two gateways through Redis', () => {
  const gateways: Harness[] = [];
  const prefix = `gh-test-${randomBytes(4).toString('hex')}:`;
  beforeAll(async () => {
    const yaml =
      `redis: { url: env:REDIS_URL, keyPrefix: "${prefix}" }\n` +
      'admin:\n  port: 0\n  token: env:GH_TEST_MONITOR_ADMIN_TOKEN\n';
    gateways.push(await startHarness({ extraYaml: yaml }), await startHarness({ extraYaml: yaml }));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
  });

  it('refuses a ban set on one gateway at the other within a second, and lifts it there too', async () => {
    const [one, two] = gateways as [Harness, Harness];
    const admin = (h: Harness, route: string, method = 'GET', body?: unknown): Promise<HttpResponse> =>
      fetchResponse(h.agent, `https://127.0.0.1:${h.gateway.adminAddress!.port}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await two.get('/items/1')).status).toBe(200);
    const set = await admin(one, '/bans', 'POST', { kind: 'address', value: '127.0.0.1', duration: '1m' });
    expect(set.status).toBe(201);
    const started = Date.now();
    while (two.gateway.monitor.bans.check('address', '127.0.0.1') === null && Date.now() - started < 1000) {
      await sleep(10);
    }
    expect(Date.now() - started).toBeLessThan(1000);
    const hits = two.upstream.hits('/items/');
    expectProblem(await two.get('/items/2'), 403, 'access-banned');
    expect(two.upstream.hits('/items/')).toBe(hits);
    const { ban } = set.json() as { ban: { id: string } };
    expect((await admin(two, `/bans/${ban.id}`, 'DELETE')).status).toBe(200);
    let served = await one.get('/items/1');
    for (let i = 0; i < 50 && served.status !== 200; i += 1) {
      await sleep(20);
      served = await one.get('/items/1');
    }
    expect(served.status).toBe(200);
    // Each replica reads every ban back from Redis every 5 s: a lifted ban must not come back.
    await sleep(5_500);
    expect((await one.get('/items/3')).status).toBe(200);
    expect((await two.get('/items/3')).status).toBe(200);
  }, 20_000);
});
