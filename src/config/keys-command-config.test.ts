import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadKeysCommandConfig } from './index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from './testing.js';

describe('gatehouse keys and signing-key rotate read only what they use', () => {
  let dir: ConfigDir;
  beforeAll(async () => {
    dir = await makeConfigDir();
  });
  afterAll(async () => dir.remove());

  /** A gateway's file whose admin token and signing key are not at hand where the command runs. */
  const gatewayYaml = (keys: string) =>
    minimalYaml +
    `stateDir: ./state\n${keys}admin: { token: env:GATEHOUSE_ADMIN_TOKEN }\nauth: { signingKeys: [file:./missing-signing-key.pem] }\n`;

  it('needs neither the admin token nor the signing keys that the gateway needs', async () => {
    const file = await dir.config(gatewayYaml('keys:\n  store: { postgres: { url: env:PG } }\n'));
    const env = { PG: 'postgres://gatehouse:pw@db:5432/keys' };
    const gateway = await loadConfig(file, env).catch((err: unknown) => err);
    expect((gateway as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      'admin.token',
      'auth.signingKeys[0]',
    ]);
    expect(await loadKeysCommandConfig(file, env)).toEqual({
      stateDir: join(dir.dir, 'state'),
      keys: {
        store: { kind: 'postgres', url: 'postgres://gatehouse:pw@db:5432/keys', schema: 'public' },
        sync: { redisUrl: null, pollMs: 250 },
        lastUsedFlushMs: 10_000,
      },
      signingKeysConfigured: true,
      signingKeyPublishAheadSec: 90,
    });
  });

  it('still refuses a store URL it cannot use, and a file of the wrong shape', async () => {
    const file = await dir.config(
      gatewayYaml('keys:\n  store: { postgres: { url: env:PG } }\n  sync: { pollMs: 2000 }\n'),
    );
    const failure = await loadKeysCommandConfig(file, {}).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).issues.map((issue) => [issue.path, issue.message])).toEqual([
      ['keys.store.postgres.url', 'environment variable PG is not set'],
      ['keys.sync.pollMs', expect.any(String)],
    ]);
  });
});
