import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from '../config/testing.js';
import { durationText, splitWarnings, workerConfig } from './worker-config.js';

describe('what each worker runs (gatehouse start --workers)', () => {
  let dir: ConfigDir | null = null;
  afterEach(async () => {
    await dir?.remove();
    dir = null;
  });
  const load = async (yaml: string): Promise<Awaited<ReturnType<typeof loadConfig>>> => {
    dir = await makeConfigDir();
    return loadConfig(await dir.config(minimalYaml + yaml), {
      GH_WC_TOKEN: '0123456789abcdef0123456789abcdef',
    });
  };

  it('splits the limits in memory, and the fallback through Redis, and keeps the admin API in the lead', async () => {
    const config = await load('admin: { token: env:GH_WC_TOKEN }\n');
    const lead = workerConfig(config, { index: 0, count: 4, replacement: false });
    const other = workerConfig(config, { index: 3, count: 4, replacement: false });
    expect(lead.rateLimits).toMatchObject({ replicas: 4, localShare: 4 });
    expect(lead.admin).not.toBeNull();
    expect(other.admin).toBeNull();
    const shared = await load('redis: { url: "redis://127.0.0.1:6379" }\nrateLimits: { replicas: 2 }\n');
    const worker = workerConfig(shared, { index: 1, count: 3, replacement: true });
    expect(worker.rateLimits.replicas).toBe(6);
    expect(worker.rateLimits.localShare).toBeUndefined();
    expect(workerConfig(config, { index: 0, count: 1, replacement: false })).toBe(config);
  });

  it('shares out the login backoff without Redis: the free failures, and a longer first wait', async () => {
    const config = await load(
      'preAuthLimit:\n  login:\n    backoff: { freeFailures: 5, initialDelay: 1500ms, maxDelay: 4s }\n',
    );
    // 5 free failures over 2 workers: 2 each; the first wait 2 × 1.5 s.
    const two = workerConfig(config, { index: 0, count: 2, replacement: false });
    expect(two.preAuthLimit.login.backoff).toEqual({
      freeFailures: 2,
      initialDelay: '3s',
      maxDelay: '4s',
      forgetAfter: '1d',
    });
    // Over 8 workers: 1 each (a share is at least one), and the first wait never past maxDelay.
    const eight = workerConfig(config, { index: 7, count: 8, replacement: false });
    expect(eight.preAuthLimit.login.backoff).toMatchObject({ freeFailures: 1, initialDelay: '4s' });
    // The detectors are not split: the lead counts for every worker, at the file's thresholds.
    expect(eight.monitoring).toBe(config.monitoring);
    const none = await load('preAuthLimit:\n  login:\n    backoff: { freeFailures: 0 }\n');
    expect(
      workerConfig(none, { index: 1, count: 4, replacement: false }).preAuthLimit.login.backoff.freeFailures,
    ).toBe(0);
    const shared = await load('redis: { url: "redis://127.0.0.1:6379" }\n');
    expect(workerConfig(shared, { index: 1, count: 4, replacement: false }).preAuthLimit).toBe(
      shared.preAuthLimit,
    );
  });

  it('writes a wait as a duration the configuration takes back: nine digits at most', () => {
    expect(durationText(3000)).toBe('3s');
    expect(durationText(1500)).toBe('1500ms');
    expect(durationText(2 * 86_400_000)).toBe('2d');
    expect(durationText(1_999_999_998)).toBe('2000000s');
    for (const ms of [1, 999, 1500, 61_000, 999_999_999, 1_999_999_998, 30 * 86_400_000])
      expect(durationText(ms)).toMatch(/^[1-9][0-9]{0,8}(ms|s|m|h|d)$/);
  });

  it('warns of a limit below the number of workers when no Redis keeps it exact', async () => {
    const config = await load(
      'rateLimits:\n  policies:\n    tight: { key: [principal], limit: 3, window: 1m }\n    wide: { key: [principal], limit: 300, window: 1m }\n',
    );
    expect(splitWarnings(config, 2)).toEqual([]);
    const warnings = splitWarnings(config, 4);
    // The policy of 3, and the default 3 free login failures.
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/preAuthLimit\.login\.backoff\.freeFailures: 3 free failures/);
    expect(warnings[0]).toMatch(
      /rateLimits\.policies\.tight: a limit of 3 split over 4 workers without Redis admits 1 in each, 4 in all/,
    );
    const shared = await load('redis: { url: "redis://127.0.0.1:6379" }\n');
    expect(splitWarnings(shared, 64)).toEqual([]);
    const backoff = await load('preAuthLimit:\n  login:\n    backoff: { freeFailures: 3 }\n');
    expect(splitWarnings(backoff, 3)).toEqual([]);
    expect(splitWarnings(backoff, 4)).toEqual([
      expect.stringMatching(
        /freeFailures: 3 free failures split over 4 workers without Redis leave 1 in each, 4 in all/,
      ),
    ]);
  });
});
