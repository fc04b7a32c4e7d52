import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchResponse,
  readLog,
  startHarness,
  type HttpResponse,
  type Harness,
} from '../support/gateway-harness.js';
import { expectProblem, PROBLEM_BASE } from '../support/problems.js';
import { LOGIN_PATH_YAML } from '../support/apis.js';

const REDIS_URL = process.env.REDIS_URL;

/** RFC 9110 §10.2.3 delay-seconds, at least 1. */
function retryAfter(response: HttpResponse): number {
  const value = String(response.headers['retry-after']);
  expect(value).toMatch(/^[1-9][0-9]*$/);
  return Number(value);
}

const item = (path: string, extension: string): string => `  ${path}:
    get:
      x-gatehouse-public: true
${extension === '' ? '' : `      ${extension}\n`}      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`;

export const limitsApi = `openapi: 3.1.0
info: { title: limits test, version: 1.0.0 }
paths:
${item('/items/limited/{id}', 'x-gatehouse-rate-limit: items')}${item(
  '/items/quota/{id}',
  'x-gatehouse-rate-limit: { name: daily, type: quota, period: day, limit: 2, key: ["header:x-tenant"] }',
)}${item('/items/several/{id}', 'x-gatehouse-rate-limit: [roomy, strict]')}${item(
  '/items/shadow/{id}',
  'x-gatehouse-rate-limit: [trial]',
)}${item('/items/throttled/{id}', 'x-gatehouse-rate-limit: slow')}${item('/items/free/{id}', '')}${item('/items/headers/{id}', 'x-gatehouse-rate-limit: [roomy]')}${LOGIN_PATH_YAML}`;

const policiesYaml = `rateLimits:
  policies:
    items: { key: [address], limit: 3, window: 1m }
    roomy: { key: [address], limit: 100, window: 1m }
    strict: { key: [address], limit: 2, window: 1m }
    trial: { key: [address], limit: 1, window: 1m, shadow: true }
    slow: { key: [address], limit: 5, window: 1s, burst: 1, mode: delay, maxDelay: 1s }
preAuthLimit:
  login:
    perAddress: { limit: 100, window: 1m }
    perUsername: { limit: 100, window: 1m }
    backoff: { freeFailures: 2, initialDelay: 400ms, maxDelay: 2s }
`;

const stores: [string, string | null][] = [
  ['memory', ''],
  // A prefix of its own per run: the shared Redis keeps nothing from an earlier run in the way.
  [
    'redis',
    REDIS_URL === undefined
      ? null
      : `redis:\n  url: env:REDIS_URL\n  keyPrefix: "gh-test-${randomUUID()}:"\n  timeoutMs: 500\n`,
  ],
];

describe.each(stores)('rate limits with the %s store', (store, storeYaml) => {
  let h: Harness;
  const skip = storeYaml === null;
  beforeAll(async () => {
    if (skip) return;
    h = await startHarness({ openapi: limitsApi, extraYaml: policiesYaml + storeYaml });
  });
  afterAll(async () => {
    if (!skip) await h.close();
  });

  it.skipIf(skip)(
    'admits N within the limit, then refuses N+1 with 429, Retry-After and both RateLimit fields',
    async () => {
      const before = h.upstream.hits();
      for (let i = 0; i < 3; i += 1) expect((await h.get(`/items/limited/${i}`)).status).toBe(200);
      expect(h.upstream.hits()).toBe(before + 3);
      const refused = await h.get('/items/limited/4');
      expectProblem(refused, 429, 'limit-rate-exceeded');
      expect(retryAfter(refused)).toBe(20); // 3 per minute: the next one fits 20 s later
      expect(refused.headers['ratelimit-policy']).toBe('"items";q=3;w=60');
      expect(refused.headers['ratelimit']).toMatch(/^"items";r=0;t=(59|60)$/);
      expect(h.upstream.hits()).toBe(before + 3);
      const journey = h.gateway.journeys.find(String(refused.headers['x-request-id']));
      expect(journey).toMatchObject({ decidedBy: 'rate-limit', code: 'GH_LIMIT_RATE_EXCEEDED' });
      expect(journey?.reason).toContain('"items"');
    },
  );

  it.skipIf(skip)('adds both RateLimit fields to the upstream’s answer of an admitted request', async () => {
    const response = await h.get('/items/headers/1');
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-policy']).toBe('"roomy";q=100;w=60');
    expect(response.headers['ratelimit']).toMatch(/^"roomy";r=9[0-9];t=[0-9]+$/);
    // An operation with no policy says nothing about limits.
    expect((await h.get('/items/free/1')).headers['ratelimit-policy']).toBeUndefined();
  });

  it.skipIf(skip)(
    'counts a quota per key until the end of the UTC day, with its own problem type',
    async () => {
      const before = h.upstream.hits();
      const tenant = { 'x-tenant': 'acme' };
      for (let i = 0; i < 2; i += 1)
        expect((await h.get('/items/quota/1', { headers: tenant })).status).toBe(200);
      const refused = await h.get('/items/quota/1', { headers: tenant });
      expectProblem(refused, 429, 'limit-quota-exceeded');
      const toMidnight = Math.ceil((Date.UTC(...utcTomorrow()) - Date.now()) / 1000);
      expect(Math.abs(retryAfter(refused) - toMidnight)).toBeLessThanOrEqual(2);
      expect(refused.headers['ratelimit-policy']).toBe('"daily";q=2;w=86400');
      expect(h.upstream.hits()).toBe(before + 2);
      expect((await h.get('/items/quota/1', { headers: { 'x-tenant': 'other' } })).status).toBe(200);
    },
  );

  it.skipIf(skip)(
    'applies every policy of an operation; the one that refuses is the only one named',
    async () => {
      const before = h.upstream.hits();
      for (let i = 0; i < 2; i += 1) expect((await h.get('/items/several/1')).status).toBe(200);
      const refused = await h.get('/items/several/1');
      expectProblem(refused, 429, 'limit-rate-exceeded');
      expect(refused.headers['ratelimit-policy']).toBe('"strict";q=2;w=60');
      expect(String(refused.headers['ratelimit'])).toMatch(/^"strict";r=0;t=\d+$/);
      expect(h.upstream.hits()).toBe(before + 2);
    },
  );

  it.skipIf(skip)(
    'lets a shadow policy refuse nothing, and says in the log what it would have refused',
    async () => {
      const responses = await Promise.all([1, 2, 3].map(() => h.get('/items/shadow/1')));
      expect(responses.map((a) => a.status)).toEqual([200, 200, 200]);
      await sleep(300); // the access log is written in batches
      const log = await readLog(h);
      const lines = log.split('\n').filter((line) => line.includes('"route":"/items/shadow/{id}"'));
      expect(
        lines.filter((line) => line.includes('shadow policy \\"trial\\" would have refused')),
      ).toHaveLength(2);
    },
  );

  it.skipIf(skip)(
    'delays throttled requests one interval apart, serves them, and refuses past the queue bound',
    async () => {
      // Eight connections open first, so the eight requests arrive together.
      await Promise.all(Array.from({ length: 8 }, (_, i) => h.get(`/items/free/warm-${i}`)));
      const started = performance.now();
      const before = h.upstream.hits();
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          h.get(`/items/throttled/${i}`).then((response) => ({ response, ms: performance.now() - started })),
        ),
      );
      const served = responses
        .filter((a) => a.response.status === 200)
        .map((a) => a.ms)
        .sort((x, y) => x - y);
      const refused = responses.filter((a) => a.response.status === 429);
      // 5 per second, burst 1, at most 1 s of waiting: now, +200, +400, +600, +800, +1000 ms; one
      // more for each 200 ms the requests took to arrive (a loaded machine spreads them).
      const arrivals = responses.map(
        (a) => h.gateway.journeys.find(String(a.response.headers['x-request-id']))!.startedAt,
      );
      const extra = Math.floor((Math.max(...arrivals) - Math.min(...arrivals)) / 200);
      expect(served.length).toBeGreaterThanOrEqual(6);
      expect(served.length).toBeLessThanOrEqual(6 + extra);
      served.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(i * 200 - 40)); // never early
      expect(refused.length).toBe(8 - served.length);
      expect(refused.length).toBeGreaterThan(0);
      for (const { response, ms } of refused) {
        expectProblem(response, 429, 'limit-rate-exceeded');
        expect(ms).toBeLessThan(500 + extra * 200); // refused on arrival, not after waiting
      }
      expect(h.upstream.hits()).toBe(before + served.length);
    },
  );

  it.skipIf(skip)(
    'grows the login backoff with consecutive failures, per username and per address, and resets it on success',
    async () => {
      const username = `alex-${store}`;
      const login = (password: string, agent?: Agent, name = username): Promise<HttpResponse> =>
        fetchResponse(agent ?? h.agent, `${h.base}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, password }),
        });
      const other = new Agent({ localAddress: '127.0.0.2', connect: { ca: h.certs.caCert } });
      try {
        const hits = (): number => h.upstream.hits('/login');
        const start = hits();
        expect((await login('wrong')).status).toBe(401);
        expect((await login('wrong')).status).toBe(401); // two free failures
        expect((await login('wrong')).status).toBe(401); // the third starts a 400 ms wait
        const locked = await login('right');
        expectProblem(locked, 429, 'limit-rate-exceeded');
        expect(retryAfter(locked)).toBe(1);
        // Every 429 says which policy and when to come back (draft-ietf-httpapi-ratelimit-headers).
        expect(locked.headers['ratelimit-policy']).toMatch(/^"login(-username)?";q=\d+;w=\d+$/);
        expect(locked.headers['ratelimit']).toMatch(/^"login(-username)?";r=0;t=1$/);
        expect(hits()).toBe(start + 3);
        // The same username from another address is locked too; another username from there is not.
        expectProblem(await login('right', other, username.toUpperCase()), 429, 'limit-rate-exceeded');
        expect((await login('wrong', other, 'someone-else')).status).toBe(401);
        await sleep(450);
        expect((await login('wrong')).status).toBe(401); // the fourth: now 800 ms
        await sleep(450);
        expectProblem(await login('right'), 429, 'limit-rate-exceeded'); // the wait grew
        await sleep(400);
        expect((await login('right')).status).toBe(200); // success resets the count
        expect((await login('wrong')).status).toBe(401);
        expect((await login('wrong')).status).toBe(401);
        expect(hits()).toBe(start + 8);
      } finally {
        await other.close();
      }
    },
  );
});

describe('pre-auth limit and concurrency guard (memory store)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      slowMs: 400,
      upstream: { responseTimeoutMs: 3000 },
      extraYaml: `preAuthLimit:\n  perAddress: { limit: 6, window: 1m, burst: 6 }\nconcurrency:\n  perClientMaxInFlight: 2\n`,
    });
  });
  afterAll(async () => h.close());

  it('refuses a client holding too many requests in flight, before the upstream', async () => {
    const before = h.upstream.hits();
    const responses = await Promise.all([1, 2, 3].map(() => h.get('/slow')));
    const statuses = responses.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = responses.find((a) => a.status === 429)!;
    expectProblem(refused, 429, 'limit-concurrency');
    expect(retryAfter(refused)).toBe(1);
    expect(h.upstream.hits()).toBe(before + 2);
  });

  it('limits every request per address before anything else, and answers a flood slowly', async () => {
    // An address of its own (loopback has them all): a bucket no other test has touched.
    const client = new Agent({ localAddress: '127.0.0.3', connect: { ca: h.certs.caCert } });
    const get = (path: string): Promise<HttpResponse> => fetchResponse(client, h.base + path, {});
    try {
      const before = h.upstream.hits();
      for (let i = 0; i < 6; i += 1) expect((await get(`/items/${i}`)).status).toBe(200); // the burst
      const started = performance.now();
      const refused = await get('/items/9');
      expectProblem(refused, 429, 'limit-rate-exceeded');
      expect(performance.now() - started).toBeGreaterThanOrEqual(990); // held a second (tarpit.ts)
      expect(refused.headers['ratelimit-policy']).toBe('"per-address";q=6;w=60');
      expect(retryAfter(refused)).toBe(10);
      expect(h.upstream.hits()).toBe(before + 6);
      await sleep(50); // the journey is recorded when the connection reports the response complete
      expect(h.gateway.journeys.find(String(refused.headers['x-request-id']))).toMatchObject({
        decidedBy: 'pre-auth-limit',
        code: 'GH_LIMIT_RATE_EXCEEDED',
      });
    } finally {
      await client.close();
    }
  });
});

describe('failed authentications throttle the address (real authenticate stage)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      openapi: `openapi: 3.1.0
info: { title: key scan, version: 1.0.0 }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { key: [] } ]
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`,
      extraYaml: 'preAuthLimit:\n  failedAuth: { limit: 6, window: 1m, burst: 3 }\n',
    });
  });
  afterAll(async () => h.close());

  it('refuses a scan of random keys before authentication once it has failed `burst` times', async () => {
    const scan = (i: number): Promise<HttpResponse> =>
      h.get(`/items/${i}`, {
        headers: { 'x-api-key': `gk_live_${randomUUID().replaceAll('-', '')}_000000` },
      });
    for (let i = 0; i < 3; i += 1) {
      const refused = await scan(i);
      expect(refused.status).toBe(401);
      expect((refused.json() as { type: string }).type).toBe(`${PROBLEM_BASE}auth-unauthenticated`);
    }
    await sleep(50); // failures are counted when each response completes
    const throttled = await scan(3);
    expectProblem(throttled, 429, 'limit-rate-exceeded');
    expect(retryAfter(throttled)).toBe(10); // 6 per minute: one more try every 10 s
    expect(throttled.headers['ratelimit-policy']).toBe('"auth-failures";q=6;w=60');
    expect(throttled.headers['ratelimit']).toMatch(/^"auth-failures";r=0;t=\d+$/);
    await sleep(50);
    expect(h.gateway.journeys.find(String(throttled.headers['x-request-id']))).toMatchObject({
      decidedBy: 'pre-auth-limit',
      passed: ['transport', 'route'], // never reached the authenticate stage
    });
    expect(h.upstream.hits()).toBe(0);
  });
});

function utcTomorrow(): [number, number, number] {
  const now = new Date();
  return [now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1];
}
