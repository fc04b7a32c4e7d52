import { describe, expect, it } from 'vitest';
import { EventLog, type EventQuery } from './events.js';

const ALL: EventQuery = {
  after: null,
  before: null,
  since: null,
  types: null,
  address: null,
  consumer: null,
  limit: 100,
};

describe('EventLog', () => {
  it('numbers events, tells subscribers, and keeps only the newest `capacity`', () => {
    const log = new EventLog(3);
    const told: number[] = [];
    log.subscribe((event) => told.push(event.id));
    for (let i = 0; i < 5; i += 1) log.emit('auth.refused', { address: `10.0.0.${i}` });
    expect(told).toEqual([1, 2, 3, 4, 5]);
    expect(log.lastId).toBe(5);
    expect(log.query(ALL).events.map((e) => e.id)).toEqual([5, 4, 3]);
    expect(log.query({ ...ALL, after: 0 }).events.map((e) => e.id)).toEqual([3, 4, 5]);
  });

  it('fills every field, null where the caller gave none', () => {
    const event = new EventLog(10).emit('ban.set', { address: '::1', data: { banId: 'ab' } });
    expect(event).toEqual({
      id: 1,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
      type: 'ban.set',
      requestId: null,
      address: '::1',
      consumer: null,
      credentialId: null,
      api: null,
      operation: null,
      code: null,
      reason: null,
      data: { banId: 'ab' },
    });
  });

  it('filters by type, address and consumer, and pages both ways with a cursor', () => {
    const log = new EventLog(100);
    for (let i = 1; i <= 10; i += 1) {
      log.emit(i % 2 === 0 ? 'auth.refused' : 'limit.refused', {
        address: i <= 5 ? 'a' : 'b',
        consumer: `c${i % 3}`,
      });
    }
    const types = new Set(['auth.refused'] as const);
    const first = log.query({ ...ALL, types, limit: 2 });
    expect(first.events.map((e) => e.id)).toEqual([10, 8]);
    expect(first.next).toBe(8);
    const second = log.query({ ...ALL, types, limit: 2, before: first.next });
    expect(second.events.map((e) => e.id)).toEqual([6, 4]);
    const last = log.query({ ...ALL, types, limit: 2, before: second.next });
    expect(last).toEqual({ events: [expect.objectContaining({ id: 2 })], next: null });
    expect(log.query({ ...ALL, address: 'a', consumer: 'c1' }).events.map((e) => e.id)).toEqual([4, 1]);
    expect(log.query({ ...ALL, after: 7, limit: 2 }).events.map((e) => e.id)).toEqual([8, 9]);
    expect(log.query({ ...ALL, since: Date.now() + 60_000 }).events).toEqual([]);
  });

  it('keeps changes, detections and bans through a flood of refusals', () => {
    const log = new EventLog(100);
    log.emit('ban.set', { address: '203.0.113.7' });
    log.emit('key.revoked', { credentialId: 'k' });
    for (let i = 0; i < 1000; i += 1) log.emit('route.refused', { address: '203.0.113.7' });
    const types = new Set(['ban.set', 'key.revoked'] as const);
    expect(log.query({ ...ALL, types }).events.map((e) => e.type)).toEqual(['key.revoked', 'ban.set']);
    const newest = log.query({ ...ALL, limit: 3 });
    expect(newest.events.map((e) => e.id)).toEqual([1002, 1001, 1000]);
    expect(log.query({ ...ALL }).events).toHaveLength(100);
  });

  it('keeps nothing with a capacity of 0, but still tells subscribers', () => {
    const log = new EventLog(0);
    let told = 0;
    log.subscribe(() => (told += 1));
    log.emit('admin.action', {});
    expect(told).toBe(1);
    expect(log.query(ALL).events).toEqual([]);
  });
});
