import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../config/index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from '../config/testing.js';
import type { GatehouseConfig } from '../config/types.js';
import { probeStores } from './store-probes.js';

const DATABASE_URL = process.env.DATABASE_URL ?? null;
const REDIS_URL = process.env.REDIS_URL ?? null;

/** A port on 127.0.0.1 that nothing listens on: bound by us, then let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts and then either says nothing or hangs up at once: not a store. */
async function fakeServer(behaviour: 'silent' | 'hang-up'): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (behaviour === 'hang-up') socket.destroy();
    else sockets.add(socket.on('error', () => undefined));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('check-config: the stores the configuration names are tried', () => {
  let dir: ConfigDir;
  beforeAll(async () => {
    dir = await makeConfigDir();
  });
  afterAll(async () => dir.remove());

  const check = async (yaml: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 2000) =>
    checkConfig(await dir.config(minimalYaml + yaml), env, {
      probeStores: (config: GatehouseConfig) => probeStores(config, timeoutMs),
    });

  it('reports a closed PostgreSQL port at its key and line, and keeps the configuration', async () => {
    const port = await closedPort();
    const { config, issues } = await check('keys:\n  store: { postgres: { url: env:PG } }\n', {
      PG: `postgres://gatehouse:pw-s3cret@127.0.0.1:${port}/keys`,
    });
    expect(issues).toEqual([
      {
        path: 'keys.store.postgres.url',
        line: 11,
        message: `cannot connect to 127.0.0.1:${port} (ECONNREFUSED)`,
        hint: 'check host and port, and that PostgreSQL runs',
      },
    ]);
    expect(JSON.stringify(issues)).not.toContain('s3cret');
    expect(config).not.toBeNull(); // the file itself is fine: check-config goes on with the contracts
  });

  it('tries every Redis key at once and names each one that does not answer in time', async () => {
    const silent = await fakeServer('silent');
    const hangUp = await fakeServer('hang-up');
    try {
      const started = performance.now();
      const { issues } = await check(
        `keys:\n  sync: { redisUrl: "redis://127.0.0.1:${silent.port}" }\n` +
          `redis: { url: "redis://127.0.0.1:${hangUp.port}" }\n`,
        {},
        500,
      );
      expect(performance.now() - started).toBeLessThan(1000); // in parallel: not 2 × 500 ms
      expect(issues).toEqual([
        {
          path: 'keys.sync.redisUrl',
          line: 11,
          message: `no answer from 127.0.0.1:${silent.port} within 0.5 s`,
          hint: 'check host, port and any firewall, and that Redis runs there',
        },
        {
          path: 'redis.url',
          line: 12,
          message: `127.0.0.1:${hangUp.port} closed the connection before Redis answered`,
          hint: `check that 127.0.0.1:${hangUp.port} is a Redis server; if it takes TLS only, write rediss:// instead of redis://`,
        },
      ]);
    } finally {
      silent.close();
      hangUp.close();
    }
  });

  it.skipIf(DATABASE_URL === null)(
    `reports a PostgreSQL database that does not exist${DATABASE_URL === null ? ' (skipped: DATABASE_URL is not set)' : ''}`,
    async () => {
      const name = `gh_missing_${randomBytes(4).toString('hex')}`;
      const url = new URL(DATABASE_URL!);
      url.pathname = `/${name}`;
      const { issues } = await check('keys:\n  store: { postgres: { url: env:PG } }\n', { PG: url.href });
      expect(issues).toEqual([
        {
          path: 'keys.store.postgres.url',
          line: 11,
          message: `database "${name}" does not exist`,
          hint: `create it (createdb ${name}) or correct the database name at the end of the URL`,
        },
      ]);
    },
  );

  it.skipIf(DATABASE_URL === null || REDIS_URL === null)(
    `says when TLS is asked of a server that does not take it${DATABASE_URL === null || REDIS_URL === null ? ' (skipped: DATABASE_URL and REDIS_URL are not both set)' : ''}`,
    async () => {
      const postgres = new URL(DATABASE_URL!);
      postgres.searchParams.set('sslmode', 'verify-full');
      const redis = new URL(REDIS_URL!);
      redis.protocol = 'rediss:';
      const { issues } = await check(
        'keys:\n  store: { postgres: { url: env:PG } }\nredis: { url: env:REDIS }\n',
        { PG: postgres.href, REDIS: redis.href },
        500,
      );
      const pgAddress = `${postgres.hostname}:${postgres.port || '5432'}`;
      const redisAddress = `${redis.hostname}:${redis.port || '6379'}`;
      expect(issues).toEqual([
        {
          path: 'keys.store.postgres.url',
          line: 11,
          message: `${pgAddress} does not take TLS`,
          hint: 'the server does not speak TLS there: remove sslmode/ssl from the URL, or enable TLS on the server',
        },
        {
          path: 'redis.url',
          line: 12,
          message: `no answer from ${redisAddress} within 0.5 s`,
          hint: 'check host, port and any firewall, and that Redis runs there; if it does not take TLS, write redis:// instead of rediss://',
        },
      ]);
    },
  );

  it.skipIf(DATABASE_URL === null || REDIS_URL === null)(
    `says nothing of stores that answer${DATABASE_URL === null || REDIS_URL === null ? ' (skipped: DATABASE_URL and REDIS_URL are not both set)' : ''}`,
    async () => {
      const { config, issues } = await check(
        'keys:\n  store: { postgres: { url: env:PG } }\n  sync: { redisUrl: env:REDIS }\nredis: { url: env:REDIS }\n',
        { PG: DATABASE_URL!, REDIS: REDIS_URL! },
      );
      expect(issues).toEqual([]);
      expect(config).not.toBeNull();
    },
  );
});
