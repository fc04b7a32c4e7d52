import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { createLogger } from '../../src/observe/logger.js';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { fixtures } from '../support/gateway-harness.js';
import { keyStoreSetups } from '../support/key-store-setups.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);
const KEY = /gk_(?:live|test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/g;

const setups = keyStoreSetups('e2e');

for (const setup of setups) {
  const title = `gatehouse keys with two gateways sharing the store: ${setup.name}`;
  // Each CLI run is a fresh Node process (about a second on a busy 2-core machine): room for several.
  describe.skipIf(setup.skip !== null)(
    setup.skip === null ? title : `${title} (skipped: ${setup.skip})`,
    { timeout: 60_000 },
    () => {
      let dir: string;
      let upstream: TestUpstream;
      let env: NodeJS.ProcessEnv;
      let cleanup: () => Promise<void> = async () => {};
      const gateways: Gatehouse[] = [];
      const issued: string[] = [];
      let cliOutput = '';

      const keys = async (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => {
        const result = await run('node', [cli, 'keys', ...args, '--config', path.join(dir, 'gw-a.yaml')], {
          env,
        }).then(
          (ok) => ({ ...ok, code: 0 }),
          (err: { stdout: string; stderr: string; code: number }) => err,
        );
        cliOutput += result.stderr;
        return result;
      };
      const create = async (...args: string[]): Promise<{ key: string; id: string }> => {
        const { stdout, code } = await keys('create', '--json', ...args);
        expect(code).toBe(0);
        const created = JSON.parse(stdout) as { key: string; record: { id: string } };
        issued.push(created.key);
        return { key: created.key, id: created.record.id };
      };
      /** Milliseconds until `check` holds on both gateways, or Infinity after 3 s. */
      const timeUntil = async (check: (g: Gatehouse) => boolean): Promise<number> => {
        const started = performance.now();
        while (performance.now() - started < 3_000) {
          if (gateways.every(check)) return performance.now() - started;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return Infinity;
      };

      beforeAll(async () => {
        dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-keys-cli-'));
        const certs = await ensureDevCertificates(path.join(dir, 'state'));
        upstream = await startTestUpstream(certs);
        await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
        const section = await setup.keys();
        cleanup = section.cleanup;
        env = { ...process.env, ...section.env };
        Object.assign(process.env, section.env);
        for (const name of ['a', 'b']) {
          await writeFile(
            path.join(dir, `gw-${name}.yaml`),
            `stateDir: ./state\nlisteners:\n  - { name: public, port: 0, tls: dev }\n` +
              `apis:\n  - name: test\n    openapi: ./test-api.yaml\n    upstream: { url: "${upstream.url}", tls: dev }\n` +
              `log: { level: info, access: true, destination: ./gw-${name}.log }\n` +
              section.yaml,
          );
        }
      });
      afterAll(async () => {
        await Promise.all(gateways.map((g) => g.close(200)));
        await upstream?.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      });

      it('create prints the key once, with its id; the key matches the scanner pattern', async () => {
        const { stdout, code } = await keys(
          'create',
          '--consumer',
          'alice',
          '--scopes',
          'accounts:read,transfers:write',
          '--expires',
          '90d',
        );
        expect(code).toBe(0);
        const found = stdout.match(KEY) ?? [];
        expect(found).toHaveLength(1);
        issued.push(found[0]!);
        expect(stdout).toMatch(
          /Created API key [0-9a-f]{16} for alice \(env live; scopes: accounts:read transfers:write; expires: 20\d\d-/,
        );
        expect(stdout).toContain('only time the key is shown');
      });

      it('refuses a bad consumer, scope, duration or env with a message and exit 1, storing nothing', async () => {
        for (const args of [
          ['--consumer', 'bad name'],
          ['--consumer', 'ok', '--scopes', 'has"quote'],
          ['--consumer', 'ok', '--expires', '3 months'],
          ['--consumer', 'ok', '--env', 'prod'],
        ]) {
          const result = await keys('create', ...args);
          expect(result.code).toBe(1);
          expect(result.stdout).not.toMatch(KEY);
          expect(result.stderr.length).toBeGreaterThan(10);
        }
        const listed = (await keys('list', '--json')).stdout.trim().split('\n');
        expect(listed).toHaveLength(1);
      });

      it('two gateways started on the same store both hold the keys created before they started', async () => {
        for (const name of ['a', 'b']) {
          const config = await loadConfig(path.join(dir, `gw-${name}.yaml`));
          gateways.push(await startGatehouse(config, createLogger(config.log)));
        }
        for (const g of gateways) expect(g.keys.verifier.verify(issued[0]!).ok).toBe(true);
      });

      it('a key created by the CLI reaches both gateways within a second', async () => {
        const { key } = await create('--consumer', 'bob', '--env', 'test');
        const ms = await timeUntil((g) => g.keys.verifier.verify(key).ok);
        expect(ms).toBeLessThan(1_000);
      });

      it('a key revoked by the CLI (another process) is refused by both gateways within a second', async () => {
        const { key, id } = await create('--consumer', 'carol', '--scopes', 'x');
        await timeUntil((g) => g.keys.verifier.verify(key).ok);
        const revoked = await keys('revoke', id);
        expect(revoked.code).toBe(0);
        expect(revoked.stdout).toContain(`Revoked key ${id}`);
        const ms = await timeUntil((g) => !g.keys.verifier.verify(key).ok);
        expect(ms).toBeLessThan(1_000);
        for (const g of gateways)
          expect(g.keys.verifier.verify(key)).toEqual({ ok: false, reason: 'revoked' });
        expect((await keys('revoke', 'ffffffffffffffff')).code).toBe(1);
      });

      it('rotate: old and new both work on both gateways during the overlap, the old is refused after', async () => {
        const old = await create('--consumer', 'dave', '--scopes', 'w', '--expires', '30d');
        await timeUntil((g) => g.keys.verifier.verify(old.key).ok);
        const { stdout, code } = await keys('rotate', old.id, '--overlap', '2s');
        expect(code).toBe(0);
        const fresh = stdout.match(KEY) ?? [];
        expect(fresh).toHaveLength(1);
        issued.push(fresh[0]!);
        expect(stdout).toContain(`The old key ${old.id} keeps working until`);
        expect(await timeUntil((g) => g.keys.verifier.verify(fresh[0]!).ok)).toBeLessThan(1_000);
        for (const g of gateways) expect(g.keys.verifier.verify(old.key).ok).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 2_100));
        for (const g of gateways) {
          expect(g.keys.verifier.verify(old.key)).toEqual({ ok: false, reason: 'expired' });
          expect(g.keys.verifier.verify(fresh[0]!).ok).toBe(true);
        }
        const again = await keys('rotate', old.id);
        expect(again.code).toBe(1);
        expect(again.stderr).toContain('already rotated');
      });

      it('list shows ids, consumers and states, and never a key', async () => {
        const { stdout, code } = await keys('list');
        expect(code).toBe(0);
        expect(stdout.split('\n')[0]).toBe('ID\tENV\tSTATE\tCONSUMER\tSCOPES\tEXPIRES\tLAST USED');
        expect(stdout).toMatch(/\trevoked\tcarol\t/);
        expect(stdout).toMatch(/\treplaced by [0-9a-f]{16}\tdave\t/);
        expect(stdout).not.toMatch(/gk_(live|test)_/);
        for (const key of issued) expect(stdout).not.toContain(key);
        const json = (await keys('list', '--json', '--consumer', 'dave')).stdout.trim().split('\n');
        expect(json).toHaveLength(2);
        for (const line of json) expect(Object.keys(JSON.parse(line) as object)).not.toContain('hash');
      });

      it('no key ever reaches a log or the CLI error output', async () => {
        await Promise.all(gateways.splice(0).map((g) => g.close(200)));
        const logs =
          (await readFile(path.join(dir, 'gw-a.log'), 'utf8')) +
          (await readFile(path.join(dir, 'gw-b.log'), 'utf8'));
        expect(logs).toContain('"msg":"API keys loaded"');
        expect(issued.length).toBeGreaterThanOrEqual(5);
        for (const key of [...issued]) {
          expect(logs).not.toContain(key);
          expect(cliOutput).not.toContain(key);
        }
        expect(logs).not.toMatch(/gk_(live|test)_[0-9A-Za-z]{8}/);
      });
    },
  );
}

describe('gatehouse start with a key store, twice on one state folder', { timeout: 60_000 }, () => {
  let dir: string;
  let upstream: TestUpstream;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-keys-start-'));
    const certs = await ensureDevCertificates(path.join(dir, 'state'));
    upstream = await startTestUpstream(certs);
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
    await writeFile(
      path.join(dir, 'gatehouse.yaml'),
      `stateDir: ./state\nlisteners:\n  - { name: public, port: 0, tls: dev }\n` +
        `apis:\n  - name: test\n    openapi: ./test-api.yaml\n    upstream: { url: "${upstream.url}", tls: dev }\n` +
        `log: { level: info, access: true, destination: stdout }\n`,
    );
  });
  afterAll(async () => {
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('both processes load the keys, and stop cleanly', async () => {
    const config = path.join(dir, 'gatehouse.yaml');
    const created = await run('node', [cli, 'keys', 'create', '--consumer', 'zed', '--config', config]);
    const key = created.stdout.match(KEY)![0];
    const children = [0, 1].map(() => spawn('node', [cli, 'start', '--config', config]));
    const outputs = children.map(() => '');
    children.forEach((child, i) => {
      child.stdout.on('data', (chunk: Buffer) => (outputs[i] += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (outputs[i] += chunk.toString()));
    });
    for (let i = 0; i < 200 && !outputs.every((o) => o.includes('"msg":"listening"')); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const output of outputs) expect(output).toMatch(/"msg":"API keys loaded","keys":1,/);
    const exits = children.map(
      (child) => new Promise<number | null>((resolve) => child.once('exit', resolve)),
    );
    for (const child of children) child.kill('SIGTERM');
    expect(await Promise.all(exits)).toEqual([0, 0]);
    for (const output of outputs) expect(output).not.toContain(key);
  });
});
