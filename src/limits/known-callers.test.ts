import { describe, expect, it } from 'vitest';
import { KnownCallers } from './known-callers.js';

describe('KnownCallers', () => {
  it('knows a credential from the address it authenticated from, for a while', () => {
    const trusted = new KnownCallers(10, 10, 1000);
    trusted.remember('10.0.0.1', 'key-a', 0);
    expect(trusted.knows('10.0.0.1', 'key-a', 500)).toBe(true);
    expect(trusted.knows('10.0.0.2', 'key-a', 500)).toBe(false);
    expect(trusted.knows('10.0.0.1', 'key-b', 500)).toBe(false);
    expect(trusted.knows('10.0.0.1', 'key-a', 1001)).toBe(false);
  });

  it('keeps a bounded number of addresses and of credentials per address, dropping the oldest', () => {
    const trusted = new KnownCallers(2, 2, 1_000_000);
    trusted.remember('a', 'k1', 0);
    trusted.remember('a', 'k2', 0);
    trusted.remember('a', 'k3', 0);
    expect(trusted.knows('a', 'k1', 1)).toBe(false);
    expect(trusted.knows('a', 'k3', 1)).toBe(true);
    trusted.remember('b', 'k1', 0);
    trusted.remember('c', 'k1', 0);
    expect(trusted.knows('a', 'k3', 1)).toBe(false);
    expect(trusted.knows('c', 'k1', 1)).toBe(true);
  });

  it('refreshes a credential that keeps authenticating', () => {
    const trusted = new KnownCallers(10, 10, 100_000);
    trusted.remember('a', 'k', 0);
    trusted.remember('a', 'k', 90_000);
    expect(trusted.knows('a', 'k', 150_000)).toBe(true);
  });
});
