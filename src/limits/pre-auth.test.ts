import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from '../gateway/request-context.js';
import { ConcurrencyGuard } from './concurrency.js';
import { DeviceCookies } from './device-cookie.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { loginDeviceCookie } from './note.js';
import { compilePreAuthPlans } from './plan.js';
import { BanList } from '../observe/bans.js';
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
 * Completes a request as the upstream exchange and the record stage would: a response of the
 * upstream (code null) notes its status on a login, then status and code, then the hooks.
 */
function complete(limiter: PreAuthLimiter, ctx: RequestContext, status: number, code: string | null): void {
  if (code === null && ctx.limits?.loginAddressKey != null) {
    ctx.limits.loginResponseStatus = status;
    ctx.limits.loginResponseRead = true;
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

describe('pre-auth limit with device cookies', () => {
  /** 2 free failures per username, then a wait; every attempt as bob unless told otherwise. */
  function setUpDevices() {
    const { limiter, login } = setUp();
    limiter.recogniseDevices(new DeviceCookies(randomBytes(32), 30));
    const attempt = (address: string, cookie: string | null = null, username = 'bob'): RequestContext =>
      fakeContext(login, {
        address,
        headers: { 'content-type': 'application/json', ...(cookie === null ? {} : { cookie }) },
        body: JSON.stringify({ username, password: 'x' }),
      });
    /** Runs an attempt the upstream answers `status`: its outcome, and the cookie a browser would send back. */
    const run = (ctx: RequestContext, status: number): { outcome: string; cookie: string | null } => {
      const decided = outcome(limiter, ctx);
      if (decided !== 'admitted') return { outcome: decided, cookie: null };
      complete(limiter, ctx, status, null);
      const setCookie = loginDeviceCookie(ctx.limits!);
      return { outcome: decided, cookie: setCookie === null ? null : setCookie.split(';', 1)[0]! };
    };
    return { limiter, attempt, run };
  }

  it('locks bob out after failures from many addresses when the attempt brings no device cookie', () => {
    const { attempt, run } = setUpDevices();
    for (let i = 1; i <= 3; i += 1)
      expect(run(attempt(`10.1.0.${i}`), 401)).toEqual({ outcome: 'admitted', cookie: null });
    expect(run(attempt('10.2.0.1'), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
    // A cookie for another username, or a forged one, is no cookie at all.
    const alice = run(attempt('10.2.0.2', null, 'alice'), 200).cookie!;
    expect(run(attempt('10.2.0.3', alice), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
    expect(run(attempt('10.2.0.4', `${alice.slice(0, -3)}AAA`), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
  });

  it('lets bob in from a device he logged in from before while failures from elsewhere lock his username', () => {
    const { attempt, run } = setUpDevices();
    const first = run(attempt('192.0.2.7'), 200);
    expect(first.outcome).toBe('admitted');
    expect(first.cookie).toMatch(/^__Host-gatehouse-device=/);
    for (let i = 1; i <= 3; i += 1) run(attempt(`10.1.0.${i}`), 401);
    expect(run(attempt('10.2.0.1'), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
    const again = run(attempt('192.0.2.7', first.cookie), 200);
    expect(again.outcome).toBe('admitted');
    // Renewed for the same device.
    const deviceOf = (cookie: string | null): string => cookie!.split(/[=.]/)[1]!;
    expect(deviceOf(again.cookie)).toBe(deviceOf(first.cookie));
    // His success clears his device's count, not what the guessers ran up against the username.
    expect(run(attempt('10.2.0.2'), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
  });

  it('counts failures sent with a device cookie against that device only', () => {
    const { attempt, run } = setUpDevices();
    const cookie = run(attempt('192.0.2.7'), 200).cookie!;
    // Three wrong passwords from three addresses, each with the device cookie.
    for (let i = 1; i <= 3; i += 1) expect(run(attempt(`10.3.0.${i}`, cookie), 401).outcome).toBe('admitted');
    expect(run(attempt('10.3.0.9', cookie), 200).outcome).toBe('GH_LIMIT_RATE_EXCEEDED');
    // The username was not charged: without the cookie, bob still gets in from elsewhere.
    expect(run(attempt('10.4.0.1'), 200).outcome).toBe('admitted');
  });
});
