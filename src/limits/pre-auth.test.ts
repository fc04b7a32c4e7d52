import { describe, expect, it } from 'vitest';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from '../gateway/request-context.js';
import { ConcurrencyGuard } from './concurrency.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { compilePreAuthPlans } from './plan.js';
import { BanList } from './bans.js';
import { PreAuthLimiter } from './pre-auth.js';
import { compileTestApi, fakeContext, manualClock, preAuthRules, principal } from './testing.js';

const ok = { responses: { '200': { description: 'ok' } } };

function setUp(perClientMaxInFlight = 100) {
  const api = compileTestApi(
    {
      '/secured': { get: { ...ok, security: [{ key: [] }] } },
      '/public': { get: { ...ok, 'x-gatehouse-public': true } },
      '/login': { post: { ...ok, 'x-gatehouse-login': { usernameField: 'username' } } },
    },
    { components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-api-key' } } } },
  );
  const op = (path: string) => api.operations.find((o) => o.template === path)!;
  const clock = manualClock();
  const rules = preAuthRules(); // failed auth: burst 3, then one per 10 s
  const concurrency = new ConcurrencyGuard({
    maxInFlight: 100,
    perClientMaxInFlight,
    maxEventLoopDelayMs: 1000,
    shedClientsAbove: 8,
  });
  const limiter = new PreAuthLimiter({
    plans: compilePreAuthPlans(rules, [api]),
    rules,
    limiter: new Limiter(new MemoryStore(1000, clock.now), null),
    concurrency,
    readBody: () => undefined,
    failureStatuses: [401, 403],
    bans: new BanList(),
  });
  return { limiter, concurrency, clock, secured: op('/secured'), open: op('/public'), login: op('/login') };
}

function outcome(limiter: PreAuthLimiter, ctx: RequestContext): string {
  try {
    limiter.onRequest(ctx);
    return 'admitted';
  } catch (err) {
    return (err as GatehouseError).code;
  }
}

/**
 * Completes a request as the upstream exchange and the record stage would: an answer of the
 * upstream (code null) notes its status on a login, then status and code, then the hooks.
 */
function complete(limiter: PreAuthLimiter, ctx: RequestContext, status: number, code: string | null): void {
  if (code === null && ctx.limits?.loginAddressKey != null) {
    ctx.limits.loginAnswerStatus = status;
    ctx.limits.loginAnswerRead = true;
  }
  ctx.journey.status = status;
  ctx.journey.code = code;
  limiter.onComplete(ctx);
}

describe('pre-auth limit', () => {
  it('counts failed authentications against the address and refuses it before authentication', () => {
    const { limiter, concurrency, clock, secured, open } = setUp();
    for (let i = 0; i < 3; i += 1) {
      const ctx = fakeContext(secured, { address: '10.0.0.9' });
      expect(outcome(limiter, ctx)).toBe('admitted');
      complete(limiter, ctx, 401, 'GH_AUTH_UNAUTHENTICATED');
    }
    expect(outcome(limiter, fakeContext(secured, { address: '10.0.0.9' }))).toBe('GH_LIMIT_RATE_EXCEEDED');
    expect(outcome(limiter, fakeContext(secured, { address: '10.0.0.8' }))).toBe('admitted');
    // Operations that take no credentials are not part of a key scan.
    expect(outcome(limiter, fakeContext(open, { address: '10.0.0.9' }))).toBe('admitted');
    clock.advance(10_000);
    expect(outcome(limiter, fakeContext(secured, { address: '10.0.0.9' }))).toBe('admitted');
    expect(concurrency.inFlight).toBeGreaterThan(0); // not completed: still counted
  });

  it('lets a credential that authenticated from an address before pass its spent failed-auth budget', () => {
    const { limiter, secured } = setUp();
    // The identifier stands in for the runtime's: the key a request presents, by its id.
    limiter.trustKnownCredentials((ctx) => (ctx.req.headers['x-api-key'] as string | undefined) ?? null);
    const office = '10.0.0.50';
    const valid = fakeContext(secured, { address: office, headers: { 'x-api-key': 'cred-alice' } });
    expect(outcome(limiter, valid)).toBe('admitted');
    valid.principal = principal('alice', 'api-key');
    complete(limiter, valid, 200, null);
    // A scan of bad keys from the same address spends its budget.
    for (let i = 0; i < 3; i += 1) {
      const guess = fakeContext(secured, { address: office, headers: { 'x-api-key': `guess-${i}` } });
      expect(outcome(limiter, guess)).toBe('admitted');
      complete(limiter, guess, 401, 'GH_AUTH_UNAUTHENTICATED');
    }
    const next = fakeContext(secured, { address: office, headers: { 'x-api-key': 'guess-3' } });
    expect(outcome(limiter, next)).toBe('GH_LIMIT_RATE_EXCEEDED');
    const none = fakeContext(secured, { address: office });
    expect(outcome(limiter, none)).toBe('GH_LIMIT_RATE_EXCEEDED');
    // Alice, already working from there, is not locked out; her key from elsewhere is not "known" there.
    const again = fakeContext(secured, { address: office, headers: { 'x-api-key': 'cred-alice' } });
    expect(outcome(limiter, again)).toBe('admitted');
    const scanner = fakeContext(secured, { address: '10.0.0.51', headers: { 'x-api-key': 'cred-alice' } });
    expect(outcome(limiter, scanner)).toBe('admitted'); // another address: its own budget, unspent
  });

  it('does not count a 401 that was not a failed authentication, nor a 403', () => {
    const { limiter, secured } = setUp();
    for (let i = 0; i < 5; i += 1) {
      const ctx = fakeContext(secured);
      limiter.onRequest(ctx);
      complete(limiter, ctx, 401, null); // the upstream's own 401
      const forbidden = fakeContext(secured);
      limiter.onRequest(forbidden);
      complete(limiter, forbidden, 403, 'GH_AUTH_FORBIDDEN');
    }
    expect(outcome(limiter, fakeContext(secured))).toBe('admitted');
  });

  it('counts login outcomes from the upstream: failures lock the username, a success clears it', () => {
    const { limiter, login } = setUp(); // 2 free failures, then 1 s, 2 s …
    const attempt = (username: string, address = '10.0.0.1'): RequestContext =>
      fakeContext(login, {
        address,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'x' }),
      });
    for (let i = 0; i < 3; i += 1) {
      const ctx = attempt('Alex');
      expect(outcome(limiter, ctx)).toBe('admitted');
      complete(limiter, ctx, 401, null);
    }
    expect(outcome(limiter, attempt(' alex ', '10.0.0.2'))).toBe('GH_LIMIT_RATE_EXCEEDED'); // same user
    expect(outcome(limiter, attempt('sam', '10.0.0.2'))).toBe('admitted');
    expect(outcome(limiter, attempt('sam', '10.0.0.1'))).toBe('GH_LIMIT_RATE_EXCEEDED'); // same address
  });

  it('releases the concurrency slot when the request completes, whatever decided it', async () => {
    const { limiter, concurrency, open } = setUp(2);
    const first = fakeContext(open);
    const second = fakeContext(open);
    limiter.onRequest(first);
    limiter.onRequest(second);
    // Shed, and told so a second later (tarpit.ts): the refusal is the promise's rejection.
    const started = performance.now();
    const shed = limiter.onRequest(fakeContext(open));
    await expect(shed).rejects.toMatchObject({ code: 'GH_LIMIT_CONCURRENCY' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    complete(limiter, first, 200, null);
    complete(limiter, first, 200, null); // a second call must not release twice
    expect(concurrency.inFlight).toBe(1);
    expect(outcome(limiter, fakeContext(open))).toBe('admitted');
    concurrency.close();
  });
});
