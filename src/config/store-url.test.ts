import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from './index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from './testing.js';

/** The three keys that name a store by URL, as YAML appended to the minimal file (its line 10 on). */
const stores = [
  {
    path: 'keys.store.postgres.url',
    line: 12,
    yaml: (url: string) => `keys:\n  store:\n    postgres: { url: "${url}" }\n`,
    plain: 'postgres://gatehouse@db.internal:5432/keys',
    withPassword: 'postgres://gatehouse:pg-s3cret@db.internal:5432/keys',
    built: (config: NonNullable<Awaited<ReturnType<typeof checkConfig>>['config']>) =>
      config.keys.store.kind === 'postgres' ? config.keys.store.url : null,
  },
  {
    path: 'keys.sync.redisUrl',
    line: 11,
    yaml: (url: string) => `keys:\n  sync: { redisUrl: "${url}" }\n`,
    plain: 'redis://cache.internal:6379',
    withPassword: 'redis://:pg-s3cret@cache.internal:6379',
    built: (config: NonNullable<Awaited<ReturnType<typeof checkConfig>>['config']>) =>
      config.keys.sync.redisUrl,
  },
  {
    path: 'redis.url',
    line: 10,
    yaml: (url: string) => `redis: { url: "${url}" }\n`,
    plain: 'redis://cache.internal:6379/2',
    withPassword: 'redis://default:pg-s3cret@cache.internal:6379',
    built: (config: NonNullable<Awaited<ReturnType<typeof checkConfig>>['config']>) =>
      config.redis?.url ?? null,
  },
];

describe('store URLs: one rule for PostgreSQL and Redis', () => {
  let dir: ConfigDir;
  beforeAll(async () => {
    dir = await makeConfigDir();
  });
  afterAll(async () => dir.remove());

  const check = async (yaml: string, env: NodeJS.ProcessEnv = {}) =>
    checkConfig(await dir.config(minimalYaml + yaml), env);

  for (const store of stores) {
    describe(store.path, () => {
      it('accepts a plain URL without a password written inline', async () => {
        const { config, issues } = await check(store.yaml(store.plain));
        expect(issues).toEqual([]);
        expect(store.built(config!)).toBe(store.plain);
      });

      it('refuses a password written inline, says to use a reference, and never repeats it', async () => {
        const { config, issues } = await check(store.yaml(store.withPassword));
        expect(config).toBeNull();
        expect(issues).toEqual([
          {
            path: store.path,
            line: store.line,
            message: 'holds a password inline',
            hint: expect.stringMatching(
              /environment variable or a file and write env:[A-Z_]+ \(or file:PATH\)/,
            ),
          },
        ]);
        expect(JSON.stringify(issues)).not.toContain('s3cret');
      });

      it('takes a URL with a password from an environment variable', async () => {
        const { config, issues } = await check(store.yaml('env:STORE_URL'), {
          STORE_URL: store.withPassword,
        });
        expect(issues).toEqual([]);
        expect(store.built(config!)).toBe(store.withPassword);
      });

      it('reports a URL that does not parse at its key and line, without repeating it', async () => {
        const inline = await check(store.yaml(store.plain.replace(/:\d+/, ':99999')));
        expect(inline.issues).toEqual([
          {
            path: store.path,
            line: store.line,
            message: 'is not a valid URL',
            hint: expect.stringContaining('1-65535'),
          },
        ]);
        // A "#" in a password must be written %23: unescaped, the URL does not parse.
        const broken = store.withPassword.replace('s3cret', 's3c#ret');
        const referenced = await check(store.yaml('env:STORE_URL'), { STORE_URL: broken });
        expect(referenced.issues).toEqual([
          {
            path: store.path,
            line: store.line,
            message: 'environment variable STORE_URL holds no valid URL',
            hint: expect.stringContaining('percent-encode reserved characters'),
          },
        ]);
        expect(JSON.stringify(referenced.issues)).not.toContain('s3c');
      });
    });
  }

  it('names the scheme it expects, and what to write for a value that is neither a URL nor a reference', async () => {
    const { issues } = await check(
      'keys:\n  store: { postgres: { url: "mysql://db:3306/keys" } }\n' +
        '  sync: { redisUrl: "127.0.0.1:6379" }\nredis: { url: env:LIMITS_REDIS }\n',
      { LIMITS_REDIS: 'https://cache:6379' },
    );
    expect(issues).toEqual([
      {
        path: 'keys.store.postgres.url',
        line: 11,
        message: 'uses mysql:// instead of postgres:// or postgresql://',
        hint: 'write postgres://user@host:5432/database',
      },
      {
        path: 'keys.sync.redisUrl',
        line: 12,
        message: 'is neither a URL nor a secret reference (env:NAME or file:PATH)',
        hint: expect.stringContaining('redis://host:6379'),
      },
      {
        path: 'redis.url',
        line: 13,
        message:
          'environment variable LIMITS_REDIS holds a URL with https:// instead of redis:// or rediss://',
        hint: expect.stringContaining('redis://host:6379'),
      },
    ]);
  });
});
