import { describe, expect, it } from 'vitest';
import { ago, chartData, count, journeySteps, requestIdFrom, share, THREAT_ROWS, until } from './format.js';
import { THREATS, type Journey } from './api.js';

const journey = (fields: Partial<Journey>): Journey => ({
  requestId: 'r',
  startedAt: 0,
  method: 'GET',
  clientAddress: '127.0.0.1',
  route: '/items/{id}',
  api: 'test',
  passed: ['transport', 'route'],
  decidedBy: 'authenticate',
  code: 'GH_AUTH_UNAUTHENTICATED',
  reason: 'api-key.unknown',
  status: 401,
  durationMs: 1,
  contract: null,
  consumer: null,
  credentialKind: null,
  credentialId: null,
  ...fields,
});

describe('dashboard formatting', () => {
  it('lists every threat of the lesson once, in the table order', () => {
    expect(THREAT_ROWS.map((row) => row.threat)).toEqual([...THREATS]);
  });

  it('writes counts, shares and times for people', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(share(1, 40)).toBe('2.5%');
    expect(share(3, 4)).toBe('75%');
    expect(share(5, 0)).toBe('0%');
    expect(ago(10_000, 22_000)).toBe('12 s ago');
    expect(ago(0, 3 * 60_000)).toBe('3 min ago');
    expect(ago(0, 2 * 3_600_000)).toBe('2 h ago');
    expect(until(60_000 + 59_000, 60_000)).toBe('in 59 s');
  });

  it('takes a request id as pasted from a problem instance', () => {
    expect(requestIdFrom('  URN:UUID:0A1B2C3D-0000-4000-8000-000000000000 ')).toBe(
      '0a1b2c3d-0000-4000-8000-000000000000',
    );
  });

  it('shows a journey as the stages passed, then the one that decided', () => {
    expect(journeySteps(journey({}))).toEqual([
      { name: 'transport', state: 'passed' },
      { name: 'route', state: 'passed' },
      { name: 'authenticate', state: 'refused' },
    ]);
    expect(journeySteps(journey({ decidedBy: 'respond', code: null, status: 200 })).at(-1)).toEqual({
      name: 'respond',
      state: 'served',
    });
  });

  it('lays the per-second series out for the chart', () => {
    expect(chartData({ start: 100, step: 1, requests: [3, 4], refused: [1, 0] })).toEqual([
      [100, 101],
      [3, 4],
      [1, 0],
    ]);
  });
});
