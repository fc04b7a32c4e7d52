import { describe, expect, it } from 'vitest';
import type { RateLimitsConfig } from '../config/types.js';
import { ContractError } from '../contract/contract-error.js';
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
    expect(plan('/login').login).toEqual({ usernameField: 'user' });
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
});
