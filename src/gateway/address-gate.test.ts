import { describe, expect, it } from 'vitest';
import { AddressGate, addressKey } from './address-gate.js';

describe('AddressGate', () => {
  it('admits up to the open-connection cap per address, and again once one closes', () => {
    const gate = new AddressGate(2, 100);
    expect(gate.admit('10.0.0.1', 0)).toBeNull();
    expect(gate.admit('10.0.0.1', 0)).toBeNull();
    expect(gate.admit('10.0.0.1', 0)).toMatch(/^over 2 open connections from 10\.0\.0\.1/);
    expect(gate.admit('10.0.0.2', 0)).toBeNull(); // another address is not held back
    gate.release('10.0.0.1');
    expect(gate.admit('10.0.0.1', 0)).toBeNull();
  });

  it('bounds new connections a second per address, with a burst of two seconds’ worth', () => {
    const gate = new AddressGate(1000, 5);
    const admitted = (now: number, count: number): number => {
      let ok = 0;
      for (let i = 0; i < count; i += 1) if (gate.admit('10.0.0.1', now) === null) ok += 1;
      return ok;
    };
    expect(admitted(0, 20)).toBe(10);
    expect(admitted(1000, 20)).toBe(5);
    expect(admitted(1000, 1)).toBe(0);
    expect(gate.admit('10.0.0.2', 1000)).toBeNull();
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    expect(addressKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(addressKey('2001:db8:0:1::7')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8:0:1:ffff::9')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    const gate = new AddressGate(1, 100);
    expect(gate.admit('2001:db8:0:1::7', 0)).toBeNull();
    expect(gate.admit('2001:db8:0:1::8', 0)).not.toBeNull();
    expect(gate.admit('2001:db8:0:2::8', 0)).toBeNull();
  });

  it('forgets idle addresses whose bucket has refilled, and reports a refusal once a second', () => {
    const gate = new AddressGate(10, 10);
    for (let i = 0; i < 10; i += 1) gate.admit('10.0.0.1', 0);
    for (let i = 0; i < 10; i += 1) gate.release('10.0.0.1');
    gate.sweep(100);
    expect(gate.size).toBe(1);
    gate.sweep(5000);
    expect(gate.size).toBe(0);
    gate.admit('10.0.0.3', 0);
    expect(gate.report('10.0.0.3', 10)).toBe(true);
    expect(gate.report('10.0.0.3', 500)).toBe(false);
    expect(gate.report('10.0.0.3', 1100)).toBe(true);
  });
});
