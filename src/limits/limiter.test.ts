import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import type { RedisStore } from './redis-store.js';
import { ADMIT, UnreadableKeyError, verdict } from './store.js';
import { rateRule } from './testing.js';

/**
 * A shared store that answers every key but "bad", whose value it cannot read, or that fails
 * outright once `down` is set: what the limiter does with each (redis-store.test.ts has the
 * store's side against a real Redis).
 */
function limiter(): { limiter: Limiter; breaker: CircuitBreaker; setDown(down: boolean): void } {
  let down = false;
  const store = {
    decide: (rules: readonly unknown[], keys: readonly string[]) => {
      if (down) return Promise.reject(new Error('Command timed out'));
      if (keys.includes('bad'))
        return Promise.reject(
          new UnreadableKeyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
        );
      return Promise.resolve(rules.map(() => verdict(ADMIT, 5, 1000, 0)));
    },
  } as unknown as RedisStore;
  const breaker = new CircuitBreaker(
    { failuresToOpen: 5, openMs: 60_000, successesToClose: 3 },
    { opened: () => undefined, closed: () => undefined },
  );
  return {
    limiter: new Limiter(new MemoryStore(1000), { store, breaker }),
    breaker,
    setDown: (value) => (down = value),
  };
}

describe('the limiter in front of the shared store', () => {
  it('sends a request whose key the store cannot read to its failure policy, and keeps the breaker closed', async () => {
    const { limiter: l, breaker } = limiter();
    const fallback = rateRule('per-caller', 100, '1m');
    const closed = rateRule('strict', 10, '1m', { onStoreFailure: 'closed' });
    for (let i = 0; i < 20; i += 1) {
      const decision = await l.decide([fallback], ['bad']);
      expect(decision.degraded).toBe('store key unreadable: fallback');
      expect(decision.rules).toEqual([fallback.fallback]);
      expect(decision.verdicts[0]!.outcome).toBe(ADMIT);
    }
    const refused = await l.decide([closed], ['bad']);
    expect(refused.unavailable).toBe(closed);
    expect(refused.degraded).toBe('store key unreadable: "strict" fails closed');
    expect(breaker.state).toBe('closed');
    // Other keys are still decided by the store.
    expect((await l.decide([fallback], ['good'])).degraded).toBeNull();
  });

  it('opens the breaker when the store itself fails (the same count of failures)', async () => {
    const { limiter: l, breaker, setDown } = limiter();
    setDown(true);
    for (let i = 0; i < 5; i += 1) await l.decide([rateRule('per-caller', 10, '1m')], ['good']);
    expect(breaker.state).toBe('open');
  });
});
