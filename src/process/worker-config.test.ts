import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from '../config/testing.js';
import { splitWarnings, workerConfig } from './worker-config.js';

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

  it('warns of a limit below the number of workers when no Redis keeps it exact', async () => {
    const config = await load(
      'rateLimits:\n  policies:\n    tight: { key: [principal], limit: 3, window: 1m }\n    wide: { key: [principal], limit: 300, window: 1m }\n',
    );
    expect(splitWarnings(config, 2)).toEqual([]);
    const warnings = splitWarnings(config, 4);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /rateLimits\.policies\.tight: a limit of 3 split over 4 workers without Redis admits 1 in each, 4 in all/,
    );
    const shared = await load('redis: { url: "redis://127.0.0.1:6379" }\n');
    expect(splitWarnings(shared, 64)).toEqual([]);
  });
});
