import { describe, expect, it } from 'vitest';
import type { RateLimitsConfig } from '../config/types.js';
import { ContractError } from '../contract/contract-error.js';
import { responseFailsLogin } from './extension.js';
import { compileOperationPlans, compilePreAuthPlans } from './plan.js';
import { compileTestApi, preAuthRules, ratePolicy } from './testing.js';

const ok = { responses: { '200': { description: 'ok' } } };
const config = (more: Partial<RateLimitsConfig> = {}): RateLimitsConfig => ({
  replicas: 1,
  maxKeys: 100,
  maxDelayed: 10,
  apply: [],
  policies: { known: ratePolicy(5, '1m') },
  ...more,
});

function contractError(extension: unknown): ContractError {
  const api = compileTestApi({ '/x': { get: { ...ok, 'x-gatehouse-rate-limit': extension } } });
  try {
    compileOperationPlans(config(), [api]);
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }
  throw new Error('compiled without error');
}

describe('x-gatehouse-rate-limit', () => {
  it('refuses at load a policy name the configuration does not define', () => {
    expect(contractError('unknown').message).toMatch(/GET \/x: x-gatehouse-rate-limit names "unknown"/);
  });

  it('refuses at load an inline policy that is not one, pointing at it', () => {
    const err = contractError([{ name: 'p', limit: 'lots', window: '1m' }]);
    expect(err.pointer).toBe('/paths/~1x/get/x-gatehouse-rate-limit/0');
    expect(err.message).toMatch(/invalid rate-limit policy at \/limit/);
    expect(
      contractError({ name: 'q', type: 'quota', limit: 5, period: 'day', mode: 'delay' }).message,
    ).toMatch(/cannot delay/);
    expect(contractError({ name: 'r', limit: 5 }).message).toMatch(/window/);
  });

  it('gives an inline policy counters of its own, whatever its name', () => {
    const api = compileTestApi({
      '/a': { get: { ...ok, 'x-gatehouse-rate-limit': { name: 'known', limit: 1, window: '1s' } } },
      '/b': { get: { ...ok, 'x-gatehouse-rate-limit': 'known' } },
    });
    const plans = compileOperationPlans(config(), [api]);
    const [a, b] = api.operations.map((op) => plans.get(op)!.rules[0]!);
    expect(a!.keyPrefix).not.toBe(b!.keyPrefix);
    expect(b!.keyPrefix).toBe('rl:known:');
  });

  it('names an unknown policy in rateLimits.apply', () => {
    const api = compileTestApi({ '/x': { get: ok } });
    expect(() => compileOperationPlans(config({ apply: ['nope'] }), [api])).toThrow(
      /rateLimits.apply names "nope"/,
    );
  });

  it('gives the fallback this process’s share of each policy', () => {
    const api = compileTestApi({ '/x': { get: { ...ok, 'x-gatehouse-rate-limit': 'known' } } });
    const rule = compileOperationPlans(config({ replicas: 2 }), [api]).get(api.operations[0]!)!.rules[0]!;
    expect(rule.policyHeader).toBe('"known";q=5;w=60');
    expect(rule.fallback?.policyHeader).toBe('"known";q=2;w=60');
  });

  it('gives each worker splitting a limit in memory its share, named and inline, rate and quota', () => {
    const api = compileTestApi({
      '/x': { get: { ...ok, 'x-gatehouse-rate-limit': 'known' } },
      '/y': {
        get: { ...ok, 'x-gatehouse-rate-limit': { name: 'day', type: 'quota', limit: 9, period: 'day' } },
      },
    });
    const plans = compileOperationPlans(config({ replicas: 2, localShare: 2 }), [api]);
    const [x, y] = api.operations.map((op) => plans.get(op)!.rules[0]!);
    expect(x!.policyHeader).toBe('"known";q=2;w=60');
    expect(x!.limit).toBe(2);
    expect(y!.policyHeader).toBe('"day";q=4;w=86400');
    expect(y!.limit).toBe(4);
  });
});

describe('x-gatehouse-login and the pre-auth plans', () => {
  it('adds the login limits to marked operations and failed-auth counting to those that take credentials', () => {
    const api = compileTestApi(
      {
        '/login': { post: { ...ok, 'x-gatehouse-login': { usernameField: 'user' } } },
        '/me': { get: { ...ok, security: [{ key: [] }] } },
        '/open': { get: { ...ok, security: [{}] } },
      },
      { components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-api-key' } } } },
    );
    const plans = compilePreAuthPlans(preAuthRules(), [api]);
    const plan = (path: string) => plans.get(api.operations.find((o) => o.template === path)!)!;
    expect(plan('/login').login).toEqual({ usernameField: 'user', failedWhen: [] });
    expect(plan('/login').addressRules.map((r) => r.kind)).toEqual(['rate', 'backoff']);
    expect(plan('/me')).toMatchObject({ countsFailedAuth: true, login: null });
    expect(plan('/open')).toMatchObject({ countsFailedAuth: false, addressRules: [] });
  });

  it('refuses a login marker it cannot read', () => {
    const api = compileTestApi({
      '/login': { post: { ...ok, 'x-gatehouse-login': { usernameField: 'a.b' } } },
    });
    expect(() => compilePreAuthPlans(preAuthRules(), [api])).toThrow(ContractError);
  });

  it('reads failedWhen tests on the answer, and refuses those it cannot', () => {
    const marked = (login: unknown) =>
      compileTestApi({ '/login': { post: { ...ok, 'x-gatehouse-login': login } } });
    const api = marked({
      failedWhen: [
        { pointer: '/message', equals: 'wrong password' },
        { pointer: '/a~1b', absent: true },
      ],
    });
    const login = compilePreAuthPlans(preAuthRules(), [api]).get(api.operations[0]!)!.login!;
    expect(login.usernameField).toBeNull();
    expect(login.failedWhen).toEqual([
      { tokens: ['message'], test: 'equals', value: 'wrong password', text: '/message == "wrong password"' },
      { tokens: ['a/b'], test: 'absent', value: null, text: '/a~1b absent' },
    ]);
    for (const bad of [
      { failedWhen: [] },
      { failedWhen: [{ pointer: 'message', present: true }] },
      { failedWhen: [{ pointer: '/m', present: true, absent: true }] },
      { failedWhen: [{ pointer: '/m', equals: { an: 'object' } }] },
      { failedWhen: [{ pointer: '/m', present: false }] },
      { usernameField: 'user', failedWhen: [{ pointer: '/m', present: true }], extra: 1 },
      {},
    ]) {
      expect(() => compilePreAuthPlans(preAuthRules(), [marked(bad)]), JSON.stringify(bad)).toThrow(
        ContractError,
      );
    }
  });
});

describe('responseFailsLogin', () => {
  const tests = (...list: unknown[]) => {
    const api = compileTestApi({ '/login': { post: { ...ok, 'x-gatehouse-login': { failedWhen: list } } } });
    return compilePreAuthPlans(preAuthRules(), [api]).get(api.operations[0]!)!.login!.failedWhen;
  };

  it('finds the first test that holds on the answer, or none', () => {
    const wrong = tests({ pointer: '/message', equals: 'wrong password' });
    expect(responseFailsLogin(wrong, { message: 'wrong password' })?.text).toBe(
      '/message == "wrong password"',
    );
    expect(responseFailsLogin(wrong, { message: 'welcome' })).toBeNull();
    expect(responseFailsLogin(wrong, undefined)).toBeNull();
    const noToken = tests({ pointer: '/token', absent: true });
    expect(responseFailsLogin(noToken, { token: 'abc' })).toBeNull();
    expect(responseFailsLogin(noToken, { message: 'wrong password' })).not.toBeNull();
    expect(responseFailsLogin(noToken, undefined)).not.toBeNull(); // not JSON: no token either
    const error = tests({ pointer: '/errors/0/code', present: true });
    expect(responseFailsLogin(error, { errors: [{ code: 'E1' }] })).not.toBeNull();
    expect(responseFailsLogin(error, { errors: [] })).toBeNull();
    // Inherited properties are not the response's: a prototype key never matches.
    expect(responseFailsLogin(tests({ pointer: '/constructor', present: true }), {})).toBeNull();
  });
});
