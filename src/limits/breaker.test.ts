import { describe, expect, it } from 'vitest';
import { CircuitBreaker, SKIP } from './breaker.js';

const SETTINGS = { failuresToOpen: 5, openMs: 1000, successesToClose: 3 };

/**
 * The breaker's rules on a clock the test moves by hand, with no store: every ticket is handed
 * back as the store would (test/e2e/limits-breaker.test.ts runs the same rules against a real,
 * frozen and restarted redis-server).
 */
function breaker(): { breaker: CircuitBreaker; changes: string[]; advance(ms: number): void } {
  let now = 1000;
  const changes: string[] = [];
  const b = new CircuitBreaker(
    SETTINGS,
    {
      opened: (reason, failures) => changes.push(`opened after ${failures}: ${reason}`),
      closed: (openForMs, fellBack) => changes.push(`closed after ${openForMs} ms, ${fellBack} fell back`),
    },
    null,
    () => now,
  );
  return { breaker: b, changes, advance: (ms) => (now += ms) };
}

/** One call after another: each starts once the previous one has failed. */
function failInTurn(b: CircuitBreaker, times: number, advance: (ms: number) => void): void {
  for (let i = 0; i < times; i += 1) {
    const ticket = b.admit();
    advance(100); // the timeout
    b.failed(ticket, 'redis: Command timed out');
  }
}

describe('the circuit breaker in front of the shared store', () => {
  it('opens after failuresToOpen failures in a row and not after fewer', () => {
    const { breaker: b, changes, advance } = breaker();
    failInTurn(b, 4, advance);
    expect(b.state).toBe('closed');
    expect(b.admit()).not.toBe(SKIP);
    expect(changes).toEqual([]);
    failInTurn(b, 1, advance);
    expect(b.state).toBe('open');
    expect(changes).toEqual(['opened after 5: redis: Command timed out']);
  });

  it('starts counting again after a success, so occasional slow answers never open it', () => {
    const { breaker: b, changes, advance } = breaker();
    for (let round = 0; round < 10; round += 1) {
      failInTurn(b, 4, advance);
      b.succeeded(b.admit());
    }
    expect(b.state).toBe('closed');
    expect(changes).toEqual([]);
  });

  it('counts the calls that were in flight together when the store stalled as one failure', () => {
    const { breaker: b, changes, advance } = breaker();
    const together = Array.from({ length: 64 }, () => b.admit());
    advance(100);
    for (const ticket of together) b.failed(ticket, 'redis: Command timed out');
    expect(b.state).toBe('closed');
    failInTurn(b, 3, advance);
    expect(b.state).toBe('closed');
    failInTurn(b, 1, advance);
    expect(changes).toEqual(['opened after 5: redis: Command timed out']);
  });

  it('sends nothing to the store while open, then one probe at a time after the cool-down', () => {
    const { breaker: b, advance } = breaker();
    failInTurn(b, 5, advance);
    advance(999);
    expect(b.state).toBe('open');
    expect(b.admit()).toBe(SKIP);
    advance(1);
    expect(b.state).toBe('half-open');
    const probe = b.admit();
    expect(probe).not.toBe(SKIP);
    expect(b.admit()).toBe(SKIP); // one probe at a time
    b.succeeded(probe);
    expect(b.state).toBe('half-open');
    expect(b.admit()).not.toBe(SKIP); // the next probe goes at once
  });

  it('closes after successesToClose probes in a row, saying how long it was open and how many fell back', () => {
    const { breaker: b, changes, advance } = breaker();
    failInTurn(b, 5, advance);
    for (let i = 0; i < 7; i += 1) expect(b.admit()).toBe(SKIP);
    advance(1000);
    for (let i = 0; i < 3; i += 1) {
      expect(b.state).toBe('half-open');
      const probe = b.admit();
      expect(b.admit()).toBe(SKIP);
      advance(1);
      b.succeeded(probe);
    }
    expect(b.state).toBe('closed');
    expect(changes).toEqual([
      'opened after 5: redis: Command timed out',
      'closed after 1003 ms, 10 fell back',
    ]);
  });

  it('goes back to open for another cool-down when a probe fails, and says nothing about it', () => {
    const { breaker: b, changes, advance } = breaker();
    failInTurn(b, 5, advance);
    advance(1000);
    const first = b.admit();
    b.succeeded(first);
    const second = b.admit();
    advance(100);
    b.failed(second, 'redis: Command timed out');
    expect(b.state).toBe('open');
    expect(b.admit()).toBe(SKIP);
    advance(1000);
    // The count of successes starts over: three more close it, not two.
    for (let i = 0; i < 2; i += 1) b.succeeded(b.admit());
    expect(b.state).toBe('half-open');
    b.succeeded(b.admit());
    expect(b.state).toBe('closed');
    expect(changes).toHaveLength(2);
    expect(changes[1]).toBe('closed after 2100 ms, 2 fell back'); // one skipped, and the failed probe
  });

  it('ignores answers to calls that started before it opened: only probes close it', () => {
    const { breaker: b, advance } = breaker();
    const early = b.admit();
    failInTurn(b, 5, advance);
    advance(1000);
    b.succeeded(early);
    b.succeeded(early);
    b.succeeded(early);
    expect(b.state).toBe('half-open');
  });

  it('opens at once when told the store was not there at start', () => {
    const { breaker: b, changes } = breaker();
    b.trip('redis: not reachable at start');
    b.trip('redis: not reachable at start');
    expect(b.state).toBe('open');
    expect(changes).toEqual(['opened after 0: redis: not reachable at start']);
  });
});
