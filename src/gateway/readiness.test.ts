import { describe, expect, it } from 'vitest';
import { isReadiness, wholeReadiness, type CheckState, type Readiness } from './readiness.js';

const worker = (upstreams: CheckState, more: Record<string, CheckState> = {}): Readiness => ({
  status: 'ready', // recomputed from the checks: what a worker said of itself as a whole does not count
  checks: { config: 'ok', keys: 'ok', upstreams, ...more },
});

describe('wholeReadiness: /readyz for every worker of one gateway', () => {
  it('is ready when every worker reported ready', () => {
    expect(wholeReadiness([worker('ok'), worker('ok')], 2)).toEqual({
      status: 'ready',
      checks: { config: 'ok', keys: 'ok', upstreams: 'ok', workers: 'ok' },
    });
  });

  it('fails a check only where every worker with a result fails it; some failing is degraded', () => {
    expect(wholeReadiness([worker('failing'), worker('failing')], 2)).toMatchObject({
      status: 'not-ready',
      checks: { upstreams: 'failing' },
    });
    expect(wholeReadiness([worker('ok'), worker('failing')], 2)).toMatchObject({
      status: 'degraded',
      checks: { upstreams: 'degraded' },
    });
    expect(wholeReadiness([worker('ok'), worker('ok', { limitsStore: 'degraded' })], 2)).toMatchObject({
      status: 'degraded',
      checks: { upstreams: 'ok', limitsStore: 'degraded' },
    });
  });

  it('waits on a worker that has not probed yet only while none has', () => {
    // A replacement worker reports pending until its first probe: the others' results stand.
    expect(wholeReadiness([worker('ok'), worker('pending')], 2)).toMatchObject({
      status: 'ready',
      checks: { upstreams: 'ok' },
    });
    expect(wholeReadiness([worker('failing'), worker('pending')], 2)).toMatchObject({
      checks: { upstreams: 'failing' },
    });
    expect(wholeReadiness([worker('pending'), worker('pending')], 2)).toMatchObject({
      status: 'not-ready',
      checks: { upstreams: 'pending' },
    });
  });

  it('is degraded while a worker has not reported (being replaced, or too busy)', () => {
    expect(wholeReadiness([worker('ok')], 2)).toEqual({
      status: 'degraded',
      checks: { config: 'ok', keys: 'ok', upstreams: 'ok', workers: 'degraded' },
    });
  });

  it('takes a report from another process only in the shape of one', () => {
    expect(isReadiness(worker('ok'))).toBe(true);
    for (const wrong of [null, 'ready', {}, { checks: [] }, { checks: { upstreams: 'fine' } }])
      expect(isReadiness(wrong)).toBe(false);
  });
});
