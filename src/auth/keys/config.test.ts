import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../../config/index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from '../../config/testing.js';

describe('keys: configuration section', () => {
  let dir: ConfigDir;
  beforeAll(async () => {
    dir = await makeConfigDir();
  });
  afterAll(async () => dir.remove());

  const load = async (yaml: string, env: NodeJS.ProcessEnv = {}) =>
    checkConfig(await dir.config(minimalYaml + yaml), env);

  it('defaults to a SQLite file in the state folder, polled every 250 ms, no admin listener', async () => {
    const { config, issues } = await load('');
    expect(issues).toEqual([]);
    expect(config!.keys).toEqual({
      store: { kind: 'sqlite', path: path.join(dir.dir, '.gatehouse', 'keys.db') },
      sync: { redisUrl: null, pollMs: 250 },
      lastUsedFlushMs: 10_000,
    });
    expect(config!.admin).toBeNull();
  });

  it('takes PostgreSQL and Redis URLs with a password from secret references only', async () => {
    const { config, issues } = await load(
      'keys:\n  store: { postgres: { url: env:PG, schema: gatehouse } }\n  sync: { redisUrl: env:REDIS, pollMs: 100 }\n',
      { PG: 'postgres://u:secret@db/app', REDIS: 'redis://:pw@cache:6379' },
    );
    expect(issues).toEqual([]);
    expect(config!.keys.store).toEqual({
      kind: 'postgres',
      url: 'postgres://u:secret@db/app',
      schema: 'gatehouse',
    });
    expect(config!.keys.sync.redisUrl).toBe('redis://:pw@cache:6379');
    const inline = await load('keys:\n  store: { postgres: { url: "postgres://u:secret@db/app" } }\n');
    expect(inline.issues.map((i) => i.path)).toEqual(['keys.store.postgres.url']);
    expect(JSON.stringify(inline.issues)).not.toContain('secret@db');
  });

  it('refuses two stores at once, a poll slower than 500 ms, and an unknown key', async () => {
    const { issues } = await load(
      'keys:\n  store: { sqlite: { path: ./k.db }, postgres: { url: env:PG } }\n  sync: { pollMs: 2000, colour: blue }\n',
      { PG: 'postgres://db/app' },
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('keys.store');
    expect(paths).toContain('keys.sync.pollMs');
    expect(paths).toContain('keys.sync.colour');
    expect(issues.find((i) => i.path === 'keys.sync.pollMs')!.hint).toMatch(/within a second/);
  });

  it('resolves a relative SQLite path against the configuration file', async () => {
    const { config } = await load('keys:\n  store: { sqlite: { path: ./data/keys.db } }\n');
    expect(config!.keys.store).toEqual({ kind: 'sqlite', path: path.join(dir.dir, 'data', 'keys.db') });
  });

  it('builds the admin section with its defaults and the token read from its reference', async () => {
    const token = 'a'.repeat(40);
    const { config, issues } = await load('admin:\n  token: file:./admin-token\n', {}).then(async (first) => {
      expect(first.issues.map((i) => i.path)).toEqual(['admin.token']); // the file does not exist yet
      await dir.file('admin-token', `${token}\n`);
      return load('admin:\n  token: file:./admin-token\n');
    });
    expect(issues).toEqual([]);
    expect(config!.admin).toEqual({ host: '127.0.0.1', port: 9443, token, tls: { dev: true } });
  });
});
