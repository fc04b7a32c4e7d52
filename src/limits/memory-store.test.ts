import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GenerationalMap, MemoryStore } from './memory-store.js';
import { ADMIT, DELAY, REFUSE } from './store.js';
import { manualClock, preAuthRules, quotaRule, rateRule } from './testing.js';

describe('memory store: GCRA rate policies', () => {
  it('admits the burst, refuses the next with the wait until one more fits, and refills smoothly', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const rule = rateRule('p', 10, '1s', { burst: 5 }); // T = 100 ms
    const remaining = [];
    for (let i = 0; i < 5; i += 1) {
      const [v] = store.decide([rule], ['a']);
      expect(v!.outcome).toBe(ADMIT);
      remaining.push(v!.remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const [refused] = store.decide([rule], ['a']);
    expect(refused).toMatchObject({ outcome: REFUSE, remaining: 0 });
    expect(refused!.waitMs).toBeCloseTo(100, 6);
    expect(refused!.resetMs).toBeCloseTo(500, 6);
    clock.advance(99);
    expect(store.decide([rule], ['a'])[0]!.outcome).toBe(REFUSE);
    clock.advance(1);
    expect(store.decide([rule], ['a'])[0]!.outcome).toBe(ADMIT);
    expect(store.decide([rule], ['b'])[0]!.outcome).toBe(ADMIT); // another key has its own allowance
  });

  it('never admits more than limit + burst in any window, whatever the arrival times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        // Bursts (up to 40 requests at one instant) at quarter-window steps: many land exactly on
        // window edges, where a fixed window would let 2 × limit through.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 40 })), {
          minLength: 1,
          maxLength: 30,
        }),
        (limit, burst, bursts) => {
          const clock = manualClock();
          const store = new MemoryStore(1000, clock.now);
          const rule = rateRule('p', limit, '1s', { burst });
          const admitted: number[] = [];
          let at = 0;
          for (const [step, count] of [...bursts].sort((x, y) => x[0] - y[0])) {
            clock.advance(step * 250 - at);
            at = step * 250;
            for (let i = 0; i < count; i += 1) {
              if (store.decide([rule], ['k'])[0]!.outcome === ADMIT) admitted.push(at);
            }
          }
          // Any closed window of 1 s (including one straddling a "window edge"): at most limit + burst.
          for (const start of admitted) {
            const inWindow = admitted.filter((t) => t >= start && t <= start + 1000).length;
            expect(inWindow).toBeLessThanOrEqual(limit + burst);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('in delay mode reserves turns one interval apart, and refuses past the longest wait', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const rule = rateRule('slow', 5, '1s', { burst: 1, mode: 'delay', maxDelay: '1s' }); // T = 200 ms
    const outcomes = Array.from({ length: 8 }, () => store.decide([rule], ['k'])[0]!);
    expect(outcomes.map((v) => v.outcome)).toEqual([
      ADMIT,
      DELAY,
      DELAY,
      DELAY,
      DELAY,
      DELAY,
      REFUSE,
      REFUSE,
    ]);
    expect(outcomes.slice(1, 6).map((v) => Math.round(v.waitMs))).toEqual([200, 400, 600, 800, 1000]);
    clock.advance(200);
    expect(store.decide([rule], ['k'])[0]!.outcome).toBe(DELAY); // a queue slot freed up, at the back
  });

  it('charges nothing when any enforced rule refuses: one policy does not use up another', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const generous = rateRule('generous', 3, '1m');
    const strict = rateRule('strict', 1, '1m');
    expect(store.decide([generous, strict], ['k', 'k']).map((v) => v.outcome)).toEqual([ADMIT, ADMIT]);
    for (let i = 0; i < 5; i += 1) {
      expect(store.decide([generous, strict], ['k', 'k']).map((v) => v.outcome)).toEqual([ADMIT, REFUSE]);
    }
    // generous was charged once only: two more fit on their own.
    expect(store.decide([generous], ['k'])[0]).toMatchObject({ outcome: ADMIT, remaining: 1 });
  });

  it('lets a shadow rule refuse without refusing the request, and without charging it past its limit', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const enforced = rateRule('real', 100, '1m');
    const shadow = rateRule('trial', 1, '1m', { shadow: true });
    store.decide([enforced, shadow], ['k', 'k']);
    const [real, trial] = store.decide([enforced, shadow], ['k', 'k']);
    expect(trial!.outcome).toBe(REFUSE);
    expect(real).toMatchObject({ outcome: ADMIT, remaining: 98 }); // charged twice: both went through
  });
});

describe('memory store: quotas, penalties, backoff', () => {
  it('counts a quota per UTC day and starts afresh at midnight', () => {
    const clock = manualClock(Date.UTC(2026, 2, 3, 23, 59, 0));
    const store = new MemoryStore(1000, clock.now);
    const rule = quotaRule('daily', 3, 'day');
    expect(store.decide([rule], ['k']).map((v) => v.remaining)).toEqual([2]);
    store.decide([rule], ['k']);
    store.decide([rule], ['k']);
    const [refused] = store.decide([rule], ['k']);
    expect(refused).toMatchObject({ outcome: REFUSE, waitMs: 60_000, resetMs: 60_000 });
    clock.advance(60_000);
    expect(store.decide([rule], ['k'])[0]).toMatchObject({ outcome: ADMIT, remaining: 2 });
  });

  it('blocks an address after `burst` failed authentications, then lets one through per interval', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const { failedAuth } = preAuthRules(); // 6 per minute (T = 10 s), burst 3
    for (let i = 0; i < 2; i += 1) store.record(failedAuth, '10.0.0.1', 'failure');
    expect(store.decide([failedAuth], ['10.0.0.1'])[0]!.outcome).toBe(ADMIT);
    store.record(failedAuth, '10.0.0.1', 'failure');
    const [blocked] = store.decide([failedAuth], ['10.0.0.1']);
    expect(blocked!.outcome).toBe(REFUSE);
    expect(blocked!.waitMs).toBeCloseTo(10_000, 6);
    for (let i = 0; i < 20; i += 1) store.record(failedAuth, '10.0.0.1', 'failure'); // in-flight stragglers
    clock.advance(10_000);
    expect(store.decide([failedAuth], ['10.0.0.1'])[0]!.outcome).toBe(ADMIT);
    expect(store.decide([failedAuth], ['10.0.0.2'])[0]!.outcome).toBe(ADMIT);
  });

  it('grows a login backoff with consecutive failures and resets it on success', () => {
    const clock = manualClock();
    const store = new MemoryStore(1000, clock.now);
    const { backoffUsername: rule } = preAuthRules(); // 2 free, then 1 s, 2 s, 4 s, 8 s max
    const waits: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      store.record(rule, 'alex', 'failure');
      const [v] = store.decide([rule], ['alex']);
      waits.push(v!.outcome === REFUSE ? v!.waitMs : 0);
    }
    expect(waits).toEqual([0, 0, 1000, 2000, 4000, 8000]);
    store.record(rule, 'alex', 'failure');
    expect(store.decide([rule], ['alex'])[0]!.waitMs).toBe(8000); // capped
    store.record(rule, 'alex', 'success');
    expect(store.decide([rule], ['alex'])[0]!.outcome).toBe(ADMIT);
    store.record(rule, 'alex', 'failure');
    expect(store.decide([rule], ['alex'])[0]!.outcome).toBe(ADMIT); // a free failure again
  });
});

describe('generational map', () => {
  it('stays within its bound and keeps the keys in use', () => {
    const map = new GenerationalMap<number>(100);
    map.set('hot', 1);
    for (let i = 0; i < 10_000; i += 1) {
      map.set(`cold-${i}`, i);
      if (i % 10 === 0) expect(map.get('hot')).toBe(1);
      expect(map.size).toBeLessThanOrEqual(100);
    }
    expect(map.get('cold-0')).toBeUndefined();
  });
});
