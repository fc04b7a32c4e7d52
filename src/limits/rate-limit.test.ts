import { describe, expect, it } from 'vitest';
import type { RateLimitsConfig } from '../config/types.js';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from '../gateway/request-context.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { compileOperationPlans } from './plan.js';
import { RateLimiter } from './rate-limit.js';
import { compileTestApi, fakeContext, manualClock, principal, ratePolicy } from './testing.js';

const ok = { responses: { '200': { description: 'ok' } } };

function limiterFor(
  policies: RateLimitsConfig['policies'],
  extension: unknown,
  apply: string[] = [],
  maxDelayed = 10,
) {
  const api = compileTestApi({ '/things': { get: { ...ok, 'x-gatehouse-rate-limit': extension } } });
  const config: RateLimitsConfig = { replicas: 1, maxKeys: 1000, maxDelayed, apply, policies };
  const clock = manualClock();
  const limiter = new RateLimiter({
    plans: compileOperationPlans(config, [api]),
    limiter: new Limiter(new MemoryStore(1000, clock.now), null),
    readBody: () => undefined,
    maxDelayed,
  });
  return { limiter, operation: api.operations[0]!, clock };
}

/** Runs the stage on a request; the refusal's code, or "admitted". */
function outcome(limiter: RateLimiter, ctx: RequestContext): string {
  try {
    limiter.onRequest(ctx);
    return 'admitted';
  } catch (err) {
    return (err as GatehouseError).code;
  }
}

describe('rate-limit stage: keys', () => {
  it('counts per principal, and an anonymous caller per client address', () => {
    const { limiter, operation } = limiterFor({ user: ratePolicy(2, '1m', { key: ['principal'] }) }, 'user');
    const alex = (): RequestContext =>
      fakeContext(operation, { principal: principal('alex'), address: '10.0.0.1' });
    const sam = (): RequestContext =>
      fakeContext(operation, { principal: principal('sam'), address: '10.0.0.1' });
    expect([outcome(limiter, alex()), outcome(limiter, alex()), outcome(limiter, alex())]).toEqual([
      'admitted',
      'admitted',
      'GH_LIMIT_RATE_EXCEEDED',
    ]);
    expect(outcome(limiter, sam())).toBe('admitted'); // same address, another principal
    // No principal: the client address is the key, in a bucket no subject can name.
    const anonymous = (): RequestContext => fakeContext(operation, { address: '10.0.0.1' });
    expect([outcome(limiter, anonymous()), outcome(limiter, anonymous())]).toEqual(['admitted', 'admitted']);
    expect(outcome(limiter, fakeContext(operation, { principal: principal('10.0.0.1') }))).toBe('admitted');
    expect(outcome(limiter, anonymous())).toBe('GH_LIMIT_RATE_EXCEEDED');
  });

  it('counts per API key only for key credentials, and per header value (a missing header is one bucket)', () => {
    const { limiter, operation } = limiterFor(
      {
        perKey: ratePolicy(1, '1m', { key: ['apiKey'] }),
        tenant: ratePolicy(1, '1m', { key: ['header:X-Tenant'] }),
      },
      ['perKey', 'tenant'],
    );
    const call = (who: string, tenant?: string): string =>
      outcome(
        limiter,
        fakeContext(operation, {
          principal: principal(who, 'api-key'),
          headers: tenant === undefined ? {} : { 'x-tenant': tenant },
        }),
      );
    expect(call('a', 't1')).toBe('admitted');
    expect(call('a', 't2')).toBe('GH_LIMIT_RATE_EXCEEDED'); // same key
    expect(call('b', 't1')).toBe('GH_LIMIT_RATE_EXCEEDED'); // same tenant
    expect(call('c')).toBe('admitted');
    expect(call('d')).toBe('GH_LIMIT_RATE_EXCEEDED'); // leaving the header out does not escape
  });

  it('keys on a body field, and the body stage does not read the body again', () => {
    const { limiter, operation } = limiterFor(
      { perUser: ratePolicy(1, '1m', { key: ['body:user'] }) },
      'perUser',
    );
    const call = (body: string, type = 'application/json'): string =>
      outcome(limiter, fakeContext(operation, { body, headers: { 'content-type': type } }));
    expect(call('{"user":"ann"}')).toBe('admitted');
    expect(call('user=ann', 'application/x-www-form-urlencoded')).toBe('GH_LIMIT_RATE_EXCEEDED');
    expect(call('{"user":"bob"}')).toBe('admitted');
  });
});

describe('rate-limit stage: answers', () => {
  it('puts RateLimit-Policy and RateLimit on the admitted request for its answer', () => {
    const { limiter, operation } = limiterFor(
      { a: ratePolicy(10, '1m'), b: ratePolicy(100, '1h', { shadow: true }) },
      ['a', 'b'],
    );
    const ctx = fakeContext(operation);
    limiter.onRequest(ctx);
    // The shadow policy is not announced: it enforces nothing.
    expect(ctx.responseHeaders).toEqual(['ratelimit-policy', '"a";q=10;w=60', 'ratelimit', '"a";r=9;t=6']);
  });

  it('names only the strictest refusing policy, with Retry-After in whole seconds', () => {
    const { limiter, operation } = limiterFor({ minute: ratePolicy(1, '1m'), hour: ratePolicy(1, '1h') }, [
      'minute',
      'hour',
    ]);
    limiter.onRequest(fakeContext(operation));
    try {
      limiter.onRequest(fakeContext(operation));
      expect.unreachable();
    } catch (err) {
      const refusal = err as GatehouseError;
      expect(refusal.code).toBe('GH_LIMIT_RATE_EXCEEDED');
      expect(refusal.headers).toEqual({
        'retry-after': '3600',
        'ratelimit-policy': '"hour";q=1;w=3600',
        ratelimit: '"hour";r=0;t=3600',
      });
    }
  });

  it('applies `apply` policies to every operation and adds the operation’s own once', () => {
    const { limiter, operation } = limiterFor({ all: ratePolicy(5, '1m') }, ['all'], ['all']);
    const ctx = fakeContext(operation);
    limiter.onRequest(ctx);
    expect(ctx.responseHeaders?.[1]).toBe('"all";q=5;w=60');
  });

  it('refuses instead of queueing once maxDelayed requests are already waiting', async () => {
    const { limiter, operation } = limiterFor(
      { slow: ratePolicy(10, '1s', { burst: 1, mode: 'delay', maxDelay: '1s' }) },
      'slow',
      [],
      3,
    );
    expect(limiter.onRequest(fakeContext(operation))).toBeUndefined(); // at once
    const waits = Array.from({ length: 3 }, () => limiter.onRequest(fakeContext(operation)));
    expect(waits.every((w) => w instanceof Promise)).toBe(true);
    expect(limiter.delayed).toBe(3);
    expect(outcome(limiter, fakeContext(operation))).toBe('GH_LIMIT_RATE_EXCEEDED'); // 400 ms would fit maxDelay
    await Promise.all(waits);
    expect(limiter.delayed).toBe(0);
  });
});
