import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLog, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { canRunRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';

const PROBLEM_BASE = 'https://gatehouse.dev/problems/';
const TIMEOUT_MS = 50;
/** What a request may cost beyond the Redis timeout on a busy two-core test machine. */
const SLACK_MS = 250;

const operation = (path: string, policy: string): string => `  ${path}:
    get:
      x-gatehouse-public: true
      x-gatehouse-rate-limit: ${policy}
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`;

const api = `openapi: 3.1.0
info: { title: redis failure, version: 1.0.0 }
paths:
${operation('/items/fallback/{id}', 'shared')}${operation('/items/closed/{id}', 'guarded')}${operation(
  '/items/open/{id}',
  'lenient',
)}`;

const policies = `rateLimits:
  replicas: 2
  policies:
    shared: { key: [address], limit: 4, window: 1m }
    guarded: { key: [address], limit: 100, window: 1m, onStoreFailure: closed }
    lenient: { key: [address], limit: 2, window: 1m, onStoreFailure: open }
`;

interface Timed {
  readonly response: HttpResponse;
  readonly ms: number;
}

describe.skipIf(!canRunRedisServer)('limits when Redis fails (a redis-server of the test its own)', () => {
  let redis: RedisServer;
  let h: Harness;
  const seen: Timed[] = [];
  const get = async (path: string): Promise<HttpResponse> => {
    const started = performance.now();
    const response = await h.get(path);
    seen.push({ response, ms: performance.now() - started });
    return response;
  };
  const reasonOf = (response: HttpResponse): string | null =>
    h.gateway.journeys.find(String(response.headers['x-request-id']))?.reason ?? null;
  /** Asks until Redis decides again (no failure policy named in the journey). */
  const untilRedisDecides = async (): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < 100; i += 1) {
      const response = await get(`/items/closed/${i}`);
      if (response.status === 200 && reasonOf(response) === null) return performance.now() - started;
      await sleep(100);
    }
    throw new Error('the gateway did not go back to Redis');
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await startHarness({
      openapi: api,
      extraYaml: `${policies}redis:\n  url: ${redis.url}\n  timeoutMs: ${TIMEOUT_MS}\n`,
    });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('decides in Redis while it is there', async () => {
    expect((await get('/items/fallback/1')).status).toBe(200);
    expect((await get('/items/fallback/2')).status).toBe(200);
    expect((await get('/items/open/1')).status).toBe(200);
    expect((await get('/items/open/2')).status).toBe(200);
    const refused = await get('/items/open/3');
    expect(refused.status).toBe(429);
    expect(reasonOf(refused)).not.toContain('store unavailable');
    expect((await get('/items/closed/1')).status).toBe(200);
  });

  it('applies each policy’s failure policy when Redis is stopped: no 500, no hang, visible in answers and log', async () => {
    const before = h.upstream.hits();
    await redis.stop();
    // fallback: this process's share (4 per minute / 2 replicas), decided locally and said so.
    const local = [
      await get('/items/fallback/3'),
      await get('/items/fallback/4'),
      await get('/items/fallback/5'),
    ];
    expect(local.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(local[2]!.headers['ratelimit-policy']).toBe('"shared";q=2;w=60');
    expect(String(reasonOf(local[0]!))).toContain('store unavailable: fallback');
    // open: the limit Redis had reached no longer holds.
    expect((await get('/items/open/4')).status).toBe(200);
    // closed: 503, generic, with Retry-After.
    const closed = await get('/items/closed/2');
    expect(closed.status).toBe(503);
    expect((closed.json() as { type: string }).type).toBe(`${PROBLEM_BASE}limit-store-unavailable`);
    expect(closed.headers['retry-after']).toBe('1');
    expect(h.upstream.hits()).toBe(before + 3);
    await sleep(300);
    expect(await readLog(h)).toContain('rate-limit store unavailable');
  });

  it('goes back to Redis when it returns', async () => {
    await redis.start();
    const tookMs = await untilRedisDecides();
    expect(tookMs).toBeLessThan(5000);
    await sleep(300);
    expect(await readLog(h)).toContain('rate-limit store answering again');
  });

  it('costs a request at most the configured timeout when Redis hangs, then recovers', async () => {
    redis.pause();
    try {
      const responses: HttpResponse[] = [];
      for (let i = 0; i < 6; i += 1) responses.push(await get(`/items/closed/hang-${i}`));
      expect(responses.every((a) => a.status === 503)).toBe(true);
      expect((await get('/items/fallback/6')).status).toBeLessThan(500);
    } finally {
      redis.resume();
    }
    await untilRedisDecides();
  });

  it('never answered 500, and no request spent much beyond the timeout in the gateway', () => {
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((t) => t.response.status >= 500 && t.response.status !== 503)).toEqual([]);
    // Inside the gateway (the journey's duration): what a Redis failure costs a request.
    const inGateway = seen.map(
      (t) => h.gateway.journeys.find(String(t.response.headers['x-request-id']))!.durationMs,
    );
    expect(Math.max(...inGateway)).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    // End to end, on a machine that may be busy with other work: no hang.
    expect(Math.max(...seen.map((t) => t.ms))).toBeLessThan(2000);
  });
});
