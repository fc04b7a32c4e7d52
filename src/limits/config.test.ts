import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../config/index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from '../config/testing.js';

describe('configuration of the limits', () => {
  let dir: ConfigDir;
  beforeAll(async () => {
    dir = await makeConfigDir();
  });
  afterAll(async () => dir.remove());

  it('has safe defaults: memory store, login and failed-auth protection on, flood limit off', async () => {
    const { config, issues } = await checkConfig(await dir.config(minimalYaml));
    expect(issues).toEqual([]);
    expect(config!.redis).toBeNull();
    expect(config!.rateLimits).toEqual({
      replicas: 1,
      maxKeys: 100_000,
      maxDelayed: 1000,
      apply: [],
      policies: {},
    });
    expect(config!.preAuthLimit.perAddress).toBeNull();
    expect(config!.preAuthLimit.failedAuth).toEqual({ limit: 30, window: '1m', burst: 30 });
    expect(config!.preAuthLimit.login.backoff.freeFailures).toBe(3);
    expect(config!.concurrency.maxInFlight).toBe(4096);
  });

  it('takes named policies and a Redis URL from an environment variable', async () => {
    const file = await dir.config(
      minimalYaml +
        `redis: { url: env:LIMITS_REDIS, timeoutMs: 10 }
rateLimits:
  apply: [per-user]
  policies:
    per-user: { limit: 100, window: 1m, burst: 20 }
    daily: { type: quota, key: [apiKey, operation], limit: 10000, period: day, shadow: true }
`,
    );
    const { config, issues } = await checkConfig(file, { LIMITS_REDIS: 'redis://:s3cret@10.0.0.5:6379/2' });
    expect(issues).toEqual([]);
    expect(config!.redis).toEqual({
      url: 'redis://:s3cret@10.0.0.5:6379/2',
      timeoutMs: 10,
      keyPrefix: 'gatehouse:',
      breaker: { failuresToOpen: 5, openMs: 1000, successesToClose: 3 },
    });
    expect(config!.rateLimits.policies['per-user']).toEqual({
      type: 'rate',
      key: ['principal'],
      limit: 100,
      window: '1m',
      burst: 20,
      mode: 'reject',
      onStoreFailure: 'fallback',
      shadow: false,
    });
  });

  it('reports every mistake with its path and what to write instead', async () => {
    const file = await dir.config(
      minimalYaml +
        `redis: { url: "redis://:hunter2@cache:6379" }
rateLimits:
  policies:
    slow: { limit: 5, window: 5 minutes }
    daily: { type: quota, limit: 10 }
    odd: { limit: 1, window: 1s, key: [cookie] }
`,
    );
    const { config, issues } = await checkConfig(file);
    expect(config).toBeNull();
    const byPath = new Map(issues.map((issue) => [issue.path, issue]));
    expect(byPath.get('redis.url')?.message).toBe('holds a password inline');
    expect(JSON.stringify(issues)).not.toContain('hunter2');
    expect(byPath.get('rateLimits.policies.slow.window')?.hint).toMatch(/whole number and a unit/);
    expect(byPath.get('rateLimits.policies.daily.period')?.message).toMatch(/missing/);
    expect(byPath.get('rateLimits.policies.odd.key[0]')?.hint).toMatch(/header:NAME/);
  });
});
