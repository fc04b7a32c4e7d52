import diagnosticsChannel from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLog, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { canRunRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';

const PROBLEM_BASE = 'https://gatehouse.dev/problems/';
/** Long enough that a frozen Redis is told from a busy two-core test machine. */
const TIMEOUT_MS = 300;
const BREAKER = { failuresToOpen: 3, openMs: 1500, successesToClose: 2 };
const OPENED = 'rate-limit store unavailable';
const CLOSED = 'rate-limit store answering again';

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
info: { title: redis breaker, version: 1.0.0 }
paths:
${operation('/items/fallback/{id}', 'shared')}${operation('/items/closed/{id}', 'guarded')}${operation(
  '/items/open/{id}',
  'lenient',
)}`;

const config = (url: string): string => `rateLimits:
  replicas: 2
  policies:
    shared: { key: [address], limit: 1000, window: 1m }
    guarded: { key: [address], limit: 1000, window: 1m, onStoreFailure: closed }
    lenient: { key: [address], limit: 1, window: 1h, onStoreFailure: open }
redis:
  url: ${url}
  timeoutMs: ${TIMEOUT_MS}
  breaker: { failuresToOpen: ${BREAKER.failuresToOpen}, openMs: ${BREAKER.openMs}, successesToClose: ${BREAKER.successesToClose} }
`;

/** Which change a log line reports. */
const change = (line: LogLine): string => (line.msg.startsWith(OPENED) ? 'opened' : 'closed');

interface LogLine {
  readonly msg: string;
  readonly failures?: number;
  readonly openForMs?: number;
  readonly fellBack?: number;
}

/**
 * The circuit breaker in front of Redis, through a real gateway and a redis-server of the
 * test's own that is frozen (SIGSTOP: every response late), stopped and started again. The
 * breaker's arithmetic on a hand-moved clock is in src/limits/breaker.test.ts.
 */
describe.skipIf(process.env.REDIS_URL === undefined || !canRunRedisServer)(
  'the circuit breaker in front of Redis (REDIS_URL; a redis-server of the test its own)',
  () => {
    let redis: RedisServer;
    let h: Harness;
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => void published.push(message);
    let n = 0;
    const get = (kind: 'fallback' | 'closed' | 'open'): Promise<HttpResponse> =>
      h.get(`/items/${kind}/${(n += 1)}`);
    const journeyOf = (response: HttpResponse) =>
      h.gateway.journeys.find(String(response.headers['x-request-id']))!;
    const decidedByRedis = (response: HttpResponse): boolean =>
      response.status === 200 && journeyOf(response).reason === null;
    const limitsCheck = (): string | undefined => h.gateway.readiness().checks['limitsStore'];
    const logLines = async (): Promise<LogLine[]> =>
      (await readLog(h))
        .split('\n')
        .filter((line) => line.includes(OPENED) || line.includes(CLOSED))
        .map((line) => JSON.parse(line) as LogLine);
    /** Each request waits for the one before: every failure is a failure in a row. */
    const frozenFailures = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i += 1) {
        const response = await get('fallback');
        expect(response.status).toBe(200);
        expect(journeyOf(response).reason).toContain('store unavailable: fallback');
      }
    };
    const until = async (what: string, check: () => boolean, ms: number): Promise<void> => {
      for (const started = performance.now(); !check(); await sleep(20)) {
        if (performance.now() - started > ms) throw new Error(`not ${what} after ${ms} ms`);
      }
    };

    beforeAll(async () => {
      diagnosticsChannel.subscribe('gatehouse:limits:store', onMessage);
      redis = await startRedisServer();
      h = await startHarness({ openapi: api, extraYaml: config(redis.url) });
      await until('ready', () => h.gateway.readiness().status === 'ready', 5000);
    });
    afterAll(async () => {
      diagnosticsChannel.unsubscribe('gatehouse:limits:store', onMessage);
      redis?.resume();
      await h?.close();
      await redis?.stop();
    });

    it('decides a single slow answer by the fallback for that request only: no state change, still ready', async () => {
      expect(decidedByRedis(await get('fallback'))).toBe(true);
      redis.pause();
      const slow = await get('fallback');
      redis.resume();
      expect(slow.status).toBe(200);
      expect(journeyOf(slow).reason).toContain('store unavailable: fallback');
      expect(journeyOf(slow).durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      // The next request goes to Redis again: one late answer does not switch the process over.
      expect(decidedByRedis(await get('fallback'))).toBe(true);
      expect(limitsCheck()).toBe('ok');
      expect(h.gateway.readiness().status).toBe('ready');
      await sleep(100);
      expect(await logLines()).toEqual([]);
      expect(published).toEqual([]);
    });

    it(`opens after ${BREAKER.failuresToOpen} failures in a row and not after fewer; readiness degraded only then`, async () => {
      redis.pause();
      await frozenFailures(BREAKER.failuresToOpen - 1);
      expect(limitsCheck()).toBe('ok');
      expect(await logLines()).toEqual([]);
      await frozenFailures(1);
      expect(limitsCheck()).toBe('degraded');
      expect(h.gateway.readiness().status).toBe('degraded');
      await sleep(100);
      const lines = await logLines();
      expect(lines.map(change)).toEqual(['opened']);
      expect(lines[0]!.failures).toBe(BREAKER.failuresToOpen);
      expect(published).toEqual([
        { state: 'open', reason: 'redis: Command timed out', failures: BREAKER.failuresToOpen },
      ]);
    });

    it('while open, decides at once without Redis, each policy by its failure policy', async () => {
      // Still frozen: a request that waited on Redis would take the timeout.
      const fallback = await get('fallback');
      expect(fallback.status).toBe(200);
      expect(fallback.headers['ratelimit-policy']).toBe('"shared";q=500;w=60'); // this process's share
      expect((await get('open')).status).toBe(200);
      expect((await get('open')).status).toBe(200); // past its limit of one: open admits
      const closed = await get('closed');
      expect(closed.status).toBe(503);
      expect((closed.json() as { type: string }).type).toBe(`${PROBLEM_BASE}limit-store-unavailable`);
      for (const response of [fallback, closed])
        expect(journeyOf(response).durationMs).toBeLessThan(TIMEOUT_MS / 2);
      expect(limitsCheck()).toBe('degraded');
    });

    it(`half-opens after the cool-down and closes after ${BREAKER.successesToClose} probes answered`, async () => {
      redis.resume();
      // Redis answers again, but the breaker waits out its cool-down before trying it.
      expect(decidedByRedis(await get('fallback'))).toBe(false);
      expect(limitsCheck()).toBe('degraded');
      await until('closed', () => limitsCheck() === 'ok', BREAKER.openMs + 3000);
      expect(decidedByRedis(await get('fallback'))).toBe(true);
      expect(h.gateway.readiness().status).toBe('ready');
      await sleep(100);
      const lines = await logLines();
      expect(lines.map(change)).toEqual(['opened', 'closed']);
      expect(lines[1]!.openForMs).toBeGreaterThanOrEqual(BREAKER.openMs);
      expect(lines[1]!.fellBack).toBeGreaterThanOrEqual(5); // the requests above while it was open
      expect(published).toHaveLength(2);
      expect(published[1]).toMatchObject({ state: 'closed', fellBack: lines[1]!.fellBack });
    });

    it('opens on a stopped Redis too, and closes by itself once it is back, with no request to probe with', async () => {
      await redis.stop();
      await frozenFailures(BREAKER.failuresToOpen);
      expect(limitsCheck()).toBe('degraded');
      await redis.start();
      await until('closed', () => limitsCheck() === 'ok', BREAKER.openMs + 5000);
      expect(decidedByRedis(await get('fallback'))).toBe(true);
      await sleep(100);
      const lines = await logLines();
      // One line per change, however many requests failed or fell back in between.
      expect(lines.map(change)).toEqual(['opened', 'closed', 'opened', 'closed']);
      expect(published.map((message) => (message as { state: string }).state)).toEqual([
        'open',
        'closed',
        'open',
        'closed',
      ]);
    });
  },
);
