import { describe, expect, it } from 'vitest';
import { JourneyBuffer, NONE_PASSED, type JourneyRecord } from './journey.js';

function journey(n: number, overrides: Partial<JourneyRecord> = {}): JourneyRecord {
  return {
    requestId: `req-${n}`,
    startedAt: 1_764_300_000_000 + n,
    method: 'GET',
    clientAddress: '127.0.0.1',
    route: '/items/{id}',
    api: 'shop',
    passed: Object.freeze(['transport', 'route']),
    decidedBy: 'respond',
    code: null,
    reason: null,
    status: 200,
    durationMs: 1.25 + n,
    contract: null,
    consumer: 'shop-app',
    subject: 'alice',
    credentialKind: 'api-key',
    credentialId: '0123456789abcdef',
    bytesIn: 120,
    bytesOut: 512,
    upstreamMs: 0.75 + n,
    ...overrides,
  };
}

describe('JourneyBuffer', () => {
  it('gives back every field of a record as it was pushed', () => {
    const buffer = new JourneyBuffer(4);
    const refused = journey(1, {
      route: null,
      api: null,
      passed: NONE_PASSED,
      decidedBy: 'transport',
      code: 'GH_TRANSPORT_PLAINTEXT',
      reason: 'plaintext HTTP on the TLS port',
      status: 400,
      contract: ['removed undeclared internalNote'],
      consumer: null,
      subject: null,
      credentialKind: null,
      credentialId: null,
      upstreamMs: null,
    });
    buffer.push(refused);
    expect(buffer.recent()).toEqual([refused]);
    expect(buffer.find('req-1')).toEqual(refused);
  });

  it('keeps the newest records, newest first, once it wraps around', () => {
    const buffer = new JourneyBuffer(3);
    for (let n = 1; n <= 5; n += 1) buffer.push(journey(n));
    expect(buffer.recent().map((r) => r.requestId)).toEqual(['req-5', 'req-4', 'req-3']);
    expect(buffer.recent(2).map((r) => r.requestId)).toEqual(['req-5', 'req-4']);
    expect(buffer.find('req-2')).toBeUndefined();
    expect(buffer.find('req-3')?.durationMs).toBe(4.25);
  });

  it('holds nothing with a capacity of 0', () => {
    const buffer = new JourneyBuffer(0);
    buffer.push(journey(1));
    expect(buffer.recent()).toEqual([]);
    expect(buffer.find('req-1')).toBeUndefined();
  });

  it('does not keep the pushed object: later changes to it are not seen', () => {
    const buffer = new JourneyBuffer(2);
    const record = journey(1);
    buffer.push(record);
    record.status = 499;
    expect(buffer.recent()[0]!.status).toBe(200);
  });
});
