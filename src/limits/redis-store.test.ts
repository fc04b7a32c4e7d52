import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from './redis-store.js';
import { ADMIT, DELAY, REFUSE, type Verdict } from './store.js';
import { preAuthRules, quotaRule, rateRule } from './testing.js';

const REDIS_URL = process.env.REDIS_URL;
const BREAKER = { failuresToOpen: 5, openMs: 1000, successesToClose: 3 };

/**
 * The Redis store must decide exactly as the memory store does (memory-store.test.ts has the
 * same scenarios on a manual clock); here the clock is Redis's own, so waits are compared
 * within a few milliseconds.
 */
describe.skipIf(REDIS_URL === undefined)('redis store (REDIS_URL; skipped without it)', () => {
  const prefix = `gh-unit-${randomUUID()}:`;
  let store: RedisStore;
  let inspect: Redis;
  beforeAll(async () => {
    store = new RedisStore({ url: REDIS_URL!, timeoutMs: 500, keyPrefix: prefix, breaker: BREAKER }, Redis);
    expect(await store.ready(2000)).toBe(true);
    inspect = new Redis(REDIS_URL!);
  });
  afterAll(async () => {
    await store.close();
    const keys = await inspect.keys(`${prefix}*`);
    if (keys.length > 0) await inspect.del(...keys);
    inspect.disconnect();
  });

  it('admits the burst, then refuses with the wait until one more fits, and keys expire by themselves', async () => {
    const rule = rateRule('p', 10, '1m', { burst: 5 }); // T = 6 s
    const remaining: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const [v] = await store.decide([rule], ['burst']);
      expect(v!.outcome).toBe(ADMIT);
      remaining.push(v!.remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const [refused] = await store.decide([rule], ['burst']);
    expect(refused!.outcome).toBe(REFUSE);
    expect(refused!.waitMs).toBeGreaterThan(5900);
    expect(refused!.waitMs).toBeLessThanOrEqual(6000);
    const ttl = await inspect.pttl(`${prefix}rl:p:burst`);
    expect(ttl).toBeGreaterThan(29_000); // five intervals ahead
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('charges nothing when an enforced rule refuses, and lets a shadow rule refuse nothing', async () => {
    const generous = rateRule('generous', 3, '1m');
    const strict = rateRule('strict', 1, '1m');
    const shadow = rateRule('trial', 1, '1m', { shadow: true });
    expect((await store.decide([generous, strict], ['k', 'k'])).map((v) => v.outcome)).toEqual([
      ADMIT,
      ADMIT,
    ]);
    for (let i = 0; i < 3; i += 1) {
      expect((await store.decide([generous, strict], ['k', 'k'])).map((v) => v.outcome)).toEqual([
        ADMIT,
        REFUSE,
      ]);
    }
    expect((await store.decide([generous], ['k']))[0]).toMatchObject({ outcome: ADMIT, remaining: 1 });
    await store.decide([shadow], ['s']);
    expect((await store.decide([generous, shadow], ['s', 's'])).map((v) => v.outcome)).toEqual([
      ADMIT,
      REFUSE,
    ]);
  });

  it('reserves turns in delay mode and refuses past the longest wait', async () => {
    const rule = rateRule('slow', 5, '1s', { burst: 1, mode: 'delay', maxDelay: '1s' });
    const verdicts = await Promise.all(Array.from({ length: 8 }, () => store.decide([rule], ['q'])));
    const outcomes = verdicts.map(([v]) => v!.outcome);
    expect(outcomes).toEqual([ADMIT, DELAY, DELAY, DELAY, DELAY, DELAY, REFUSE, REFUSE]);
    verdicts.slice(1, 6).forEach(([v], i) => expect(Math.abs(v!.waitMs - (i + 1) * 200)).toBeLessThan(30));
  });

  it('counts a quota until the end of the UTC day', async () => {
    const rule = quotaRule('daily', 2, 'day');
    expect((await store.decide([rule], ['t']))[0]!.remaining).toBe(1);
    expect((await store.decide([rule], ['t']))[0]!.remaining).toBe(0);
    const [refused] = await store.decide([rule], ['t']);
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(refused!.outcome).toBe(REFUSE);
    expect(Math.abs(refused!.waitMs - (midnight - Date.now()))).toBeLessThan(1000);
  });

  it('blocks after failed authentications and grows a login backoff until a success', async () => {
    const rules = preAuthRules({ freeFailures: 1, initialDelay: '1s', maxDelay: '4s', forgetAfter: '1h' });
    for (let i = 0; i < 3; i += 1) await store.record(rules.failedAuth, 'scan', 'failure');
    const [blocked] = await store.decide([rules.failedAuth], ['scan']);
    expect(blocked!.outcome).toBe(REFUSE);
    expect(blocked!.waitMs).toBeGreaterThan(9900);
    const waits: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      await store.record(rules.backoffUsername, 'alex', 'failure');
      const [v] = await store.decide([rules.backoffUsername], ['alex']);
      waits.push(v!.outcome === REFUSE ? Math.round(v!.waitMs / 100) * 100 : 0);
    }
    expect(waits).toEqual([0, 1000, 2000, 4000]);
    await store.record(rules.backoffUsername, 'alex', 'success');
    expect((await store.decide([rules.backoffUsername], ['alex']))[0]!.outcome).toBe(ADMIT);
  });

  it('sends the decisions of one turn as one call, each decided in order and all-or-nothing', async () => {
    const names: string[] = [];
    const sendCommand = Redis.prototype.sendCommand;
    Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      names.push(args[0].name);
      return sendCommand.apply(this, args);
    };
    try {
      const first = rateRule('first', 10, '1m', { burst: 2 });
      const second = rateRule('second', 10, '1m', { burst: 3 });
      const both = (): ReturnType<RedisStore['decide']> => store.decide([first, second], ['turn', 'turn']);
      const outcomes = await Promise.all([
        both(),
        both(),
        both(), // the first rule refuses: the second is not charged
        store.decide([second], ['turn']),
        store.decide([second], ['turn']),
      ]);
      expect(outcomes.map((verdicts) => verdicts.map((v) => [v.outcome, v.remaining]))).toEqual([
        [
          [ADMIT, 1],
          [ADMIT, 2],
        ],
        [
          [ADMIT, 0],
          [ADMIT, 1],
        ],
        [
          [REFUSE, 0],
          [ADMIT, 0],
        ],
        [[ADMIT, 0]],
        [[REFUSE, 0]],
      ]);
      expect(names.filter((name) => name === 'evalsha')).toHaveLength(1);
      // Past 128 in one turn, the rest go in further calls, in the order asked.
      names.length = 0;
      const many = rateRule('many', 1000, '1m', { burst: 300 });
      const verdicts = await Promise.all(Array.from({ length: 300 }, () => store.decide([many], ['turn'])));
      expect(verdicts.map(([v]) => v!.remaining)).toEqual(Array.from({ length: 300 }, (_, i) => 299 - i));
      expect(names.filter((name) => name === 'evalsha')).toHaveLength(3);
    } finally {
      Redis.prototype.sendCommand = sendCommand;
    }
  });

  it('fails only the decision whose key it cannot read, charging nothing of it, and answers one queued at close', async () => {
    const rule = rateRule('broken', 10, '1m');
    const other = rateRule('other', 10, '1m');
    await inspect.hset(`${prefix}${rule.keyPrefix}wrong-type`, 'x', '1'); // not a rate's number
    await inspect.set(`${prefix}${rule.keyPrefix}not-a-number`, 'abc');
    // One call: a readable key before and after each unreadable one, all in the same turn.
    const settled = await Promise.allSettled([
      store.decide([rule], ['fine']),
      store.decide([other, rule], ['same-request', 'wrong-type']),
      store.decide([rule], ['not-a-number']),
      store.decide([], []),
      store.decide([rule], ['after']),
    ]);
    expect(settled.map((one) => one.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toContain('WRONGTYPE');
    expect(String((settled[2] as PromiseRejectedResult).reason)).toContain('could not read a key');
    expect((settled[0] as PromiseFulfilledResult<Verdict[]>).value[0]!.outcome).toBe(ADMIT);
    expect((settled[3] as PromiseFulfilledResult<Verdict[]>).value).toEqual([]);
    expect((settled[4] as PromiseFulfilledResult<Verdict[]>).value[0]!.outcome).toBe(ADMIT);
    // The readable ones were charged; nothing of a failed request was, not even its readable check.
    expect(await inspect.exists(`${prefix}${rule.keyPrefix}fine`, `${prefix}${rule.keyPrefix}after`)).toBe(2);
    expect(await inspect.exists(`${prefix}${other.keyPrefix}same-request`)).toBe(0);
    expect(await inspect.type(`${prefix}${rule.keyPrefix}wrong-type`)).toBe('hash');
    expect(await inspect.get(`${prefix}${rule.keyPrefix}not-a-number`)).toBe('abc');
    const closing = new RedisStore(
      { url: REDIS_URL!, timeoutMs: 500, keyPrefix: prefix, breaker: BREAKER },
      Redis,
    );
    expect(await closing.ready(2000)).toBe(true);
    const asked = closing.decide([rule], ['at-close']);
    await closing.close();
    expect((await asked)[0]!.outcome).toBe(ADMIT);
  });

  it('lets a shadow rule whose key it cannot read fail nothing, and leaves that key as it is', async () => {
    const shadow = rateRule('trial-broken', 10, '1m', { shadow: true });
    const enforced = rateRule('enforced-beside', 10, '1m');
    await inspect.hset(`${prefix}${shadow.keyPrefix}k`, 'x', '1');
    const verdicts = await store.decide([shadow, enforced], ['k', 'k']);
    expect(verdicts.map((v) => [v.outcome, v.remaining])).toEqual([
      [ADMIT, -1],
      [ADMIT, 9],
    ]);
    expect(await inspect.type(`${prefix}${shadow.keyPrefix}k`)).toBe('hash');
    expect(await inspect.exists(`${prefix}${enforced.keyPrefix}k`)).toBe(1);
  });

  it('fails fast when Redis cannot be reached (the breaker, not the store, says so: breaker.test.ts)', async () => {
    const dead = new RedisStore(
      { url: 'redis://127.0.0.1:1', timeoutMs: 50, keyPrefix: prefix, breaker: BREAKER },
      Redis,
    );
    expect(await dead.ready(200)).toBe(false);
    const started = performance.now();
    await expect(dead.decide([rateRule('p', 1, '1s')], ['x'])).rejects.toThrow();
    await expect(dead.probe()).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(100);
    await dead.close();
  });

  it('answers a probe by running the decision script with no check (so no key to write)', async () => {
    expect(await store.probe()).toEqual([]);
  });
});
