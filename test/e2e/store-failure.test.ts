import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../support/gateway-harness.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const DATABASE_URL = process.env.DATABASE_URL ?? null;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI to its end; GATEHOUSE_DEBUG is cleared so that no stack trace is asked for. */
function gatehouse(args: readonly string[], env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, GATEHOUSE_DEBUG: '', ...env };
    execFile('node', [cli, ...args], { env: childEnv, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port on 127.0.0.1 that nothing listens on: bound by us, then let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function gatehouseYaml(keys: string, log: string): string {
  return `stateDir: ./state
listeners:
  - { name: public, host: 127.0.0.1, port: 0, tls: dev }
apis:
  - name: test
    openapi: ./test-api.yaml
    upstream: { url: "https://127.0.0.1:9", tls: dev }
${keys}log: { level: info, destination: ${log} }
`;
}

describe('a key store that cannot be reached, from the command line', { timeout: 60_000 }, () => {
  let dir: string;
  let port: number;
  let config: string;
  let env: Record<string, string>;
  let expected: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-store-failure-'));
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
    port = await closedPort();
    config = path.join(dir, 'gatehouse.yaml');
    // Lines 1-7 are the listener and the API: the store's URL is on line 9.
    await writeFile(
      config,
      gatehouseYaml('keys:\n  store: { postgres: { url: env:GH_TEST_PG } }\n', './gatehouse.log'),
    );
    env = { GH_TEST_PG: `postgres://gatehouse:pw-s3cret@127.0.0.1:${port}/keys` };
    expected = `keys.store.postgres.url: cannot connect to 127.0.0.1:${port} (ECONNREFUSED) — check host and port, and that PostgreSQL runs`;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('check-config names the key, its line, the address and the fix, and exits 1', async () => {
    const { code, stdout } = await gatehouse(['check-config', '--config', config], env);
    expect(code).toBe(1);
    expect(stdout).toContain(
      expected.replace('keys.store.postgres.url:', 'keys.store.postgres.url (line 9):'),
    );
    expect(stdout).not.toContain('configuration is valid');
    expect(stdout).not.toContain('s3cret');
  });

  it('check-config --offline checks the files without connecting, and finds them valid', async () => {
    const { code, stdout } = await gatehouse(['check-config', '--offline', '--config', config], env);
    expect(code).toBe(0);
    expect(stdout).not.toContain('keys.store.postgres.url');
    expect(stdout).toContain('configuration is valid');
    const help = await gatehouse(['check-config', '--help'], {});
    expect(help.stdout).toMatch(/--offline\s+do not connect to the stores/);
  });

  it('start exits 1 with one line on stderr, no stack trace, and the same line in the log file', async () => {
    const { code, stdout, stderr } = await gatehouse(['start', '--config', config], env);
    expect(code).toBe(1);
    expect(stderr).toBe(`${expected}\n`);
    expect(stdout).toBe('');
    const log = (await readFile(path.join(dir, 'gatehouse.log'), 'utf8')).trim().split('\n');
    const last = JSON.parse(log[log.length - 1]!) as Record<string, unknown>;
    expect(last).toMatchObject({
      level: 'fatal',
      msg: 'start failed',
      key: 'keys.store.postgres.url',
      error: expected,
    });
    expect(log.join('\n')).not.toContain('s3cret');
  });

  it('keys list exits 1 with the same one line', async () => {
    const { code, stderr } = await gatehouse(['keys', 'list', '--config', config], env);
    expect(code).toBe(1);
    expect(stderr).toBe(`${expected}\n`);
  });

  it('a URL that does not parse is a configuration issue at its key, not a crash at start', async () => {
    const { code, stderr } = await gatehouse(['start', '--config', config], {
      GH_TEST_PG: 'postgres://gatehouse:pw-s3c#ret@127.0.0.1:5432/keys',
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^Invalid configuration .* \(1 issue\):\nkeys\.store\.postgres\.url \(line 9\): environment variable GH_TEST_PG holds no valid URL — /,
    );
    expect(stderr).not.toMatch(/\n\s+at |s3c/);
  });

  it.skipIf(DATABASE_URL === null)(
    `keys list names a database that does not exist${DATABASE_URL === null ? ' (skipped: DATABASE_URL is not set)' : ''}`,
    async () => {
      const name = `gh_missing_${randomBytes(4).toString('hex')}`;
      const url = new URL(DATABASE_URL!);
      url.pathname = `/${name}`;
      const { code, stderr } = await gatehouse(['keys', 'list', '--config', config], {
        GH_TEST_PG: url.href,
      });
      expect(code).toBe(1);
      expect(stderr).toBe(
        `keys.store.postgres.url: database "${name}" does not exist — create it (createdb ${name}) or correct the database name at the end of the URL\n`,
      );
    },
  );
});

describe(
  'gatehouse keys and signing-key rotate without the secrets only the gateway uses',
  { timeout: 60_000 },
  () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-keys-secrets-'));
      await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
    });
    afterAll(async () => rm(dir, { recursive: true, force: true }));

    it('lists keys and rotates the signing key with the admin token unset', async () => {
      const config = path.join(dir, 'gatehouse.yaml');
      await writeFile(config, gatehouseYaml('admin: { token: env:GH_TEST_UNSET_ADMIN_TOKEN }\n', 'stdout'));
      const check = await gatehouse(['check-config', '--config', config], {});
      expect(check.stdout).toContain(
        'admin.token (line 8): environment variable GH_TEST_UNSET_ADMIN_TOKEN is not set',
      );
      const list = await gatehouse(['keys', 'list', '--config', config], {});
      expect(list).toMatchObject({ code: 0, stderr: '' });
      const rotate = await gatehouse(['signing-key', 'rotate', '--config', config], {});
      expect(rotate).toMatchObject({ code: 0, stderr: '' });
      expect(rotate.stdout).toMatch(/^new signing key \S+ in /);
    });
  },
);

/** Starts the gateway, returns its log lines once it listens, and stops it. */
async function startUpLog(config: string, env: Record<string, string>): Promise<Record<string, unknown>[]> {
  const child = spawn('node', [cli, 'start', '--config', config], { env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (let i = 0; i < 200 && !output.includes('"msg":"listening"'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(output).toContain('"msg":"listening"');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the start-up log names the key store in use', { timeout: 60_000 }, () => {
  let dir: string;
  const schema = `gh_store_log_${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-store-log-'));
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    if (DATABASE_URL === null) return;
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('SQLite: its file', async () => {
    const config = path.join(dir, 'sqlite.yaml');
    await writeFile(config, gatehouseYaml('', 'stdout'));
    const lines = await startUpLog(config, {});
    expect(lines.filter((line) => line.msg === 'key store')).toEqual([
      expect.objectContaining({ level: 'info', store: 'sqlite', path: path.join(dir, 'state', 'keys.db') }),
    ]);
  });

  it.skipIf(DATABASE_URL === null)(
    `PostgreSQL: host, database and schema, never the password${DATABASE_URL === null ? ' (skipped: DATABASE_URL is not set)' : ''}`,
    async () => {
      const url = new URL(DATABASE_URL!);
      // The test server trusts local logins; a password it ignores shows that none reaches the log.
      if (url.password === '') url.password = 'unused-s3cret';
      const config = path.join(dir, 'postgres.yaml');
      await writeFile(
        config,
        gatehouseYaml(`keys:\n  store: { postgres: { url: env:GH_TEST_PG, schema: ${schema} } }\n`, 'stdout'),
      );
      const lines = await startUpLog(config, { GH_TEST_PG: url.href });
      expect(lines.filter((line) => line.msg === 'key store')).toEqual([
        expect.objectContaining({
          level: 'info',
          store: 'postgres',
          host: `${url.hostname}:${url.port || '5432'}`,
          database: url.pathname.slice(1),
          schema,
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain(url.password);
    },
  );
});
