import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse, fixtures } from '../support/gateway-harness.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);

function gatehouseYaml(upstreamUrl: string, openapi = './test-api.yaml'): string {
  return `stateDir: ./state
listeners:
  - { name: public, host: 127.0.0.1, port: 0, tls: dev }
apis:
  - name: test
    openapi: ${openapi}
    upstream: { url: "${upstreamUrl}", tls: dev, responseTimeoutMs: 5000 }
log: { level: info, access: true, destination: stdout }
`;
}

describe('gatehouse check-config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-'));
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('names every bad field with its line and a hint, and exits 1', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      `listeners:
  - { name: public, port: 99999, tls: dev, colour: blue }
limits:
  maxBodyBytes: lots
apis:
  - name: test
    openapi: ./missing.yaml
    upstream: { url: "http://10.0.0.9:9000" }
`,
    );
    const failure = await run('node', [cli, 'check-config', '--config', file]).catch(
      (err: { code: number; stdout: string }) => err,
    );
    expect('code' in failure && failure.code).toBe(1);
    const out = failure.stdout;
    expect(out).toMatch(/listeners\[0\]\.port \(line 2\): .+ — /);
    expect(out).toMatch(/listeners\[0\]\.colour \(line 2\): .+ — .*remove it/);
    expect(out).toMatch(/limits\.maxBodyBytes \(line 4\): .+ — /);
    expect(out).toMatch(/apis\[0\]\.openapi \(line 7\): .+ — /);
    expect(out).toMatch(
      /apis\[0\]\.upstream\.url \(line 8\): uses plain http:\/\/ to a host that is not this one — Gatehouse talks to upstreams over TLS/,
    );
  });

  it('reports a broken OpenAPI document and accepts a good configuration', async () => {
    const good = path.join(dir, 'good.yaml');
    await writeFile(good, gatehouseYaml('https://127.0.0.1:9000'));
    const ok = await run('node', [cli, 'check-config', '--config', good]);
    expect(ok.stdout).toContain('configuration is valid');
    await writeFile(path.join(dir, 'broken-api.yaml'), 'openapi: 3.1.0\ninfo: { title: x }\npaths: {}\n');
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, gatehouseYaml('https://127.0.0.1:9000', './broken-api.yaml'));
    const failure = await run('node', [cli, 'check-config', '--config', broken]).catch(
      (err: { code: number; stdout: string }) => err,
    );
    expect('code' in failure && failure.code).toBe(1);
    expect(failure.stdout).toMatch(/apis\.test\.openapi: .*broken-api\.yaml/);
  });

  it('refuses an operation whose x-gatehouse-rate-limit names no policy, as start would', async () => {
    await writeFile(
      path.join(dir, 'limited-api.yaml'),
      "openapi: 3.1.0\ninfo: { title: x, version: '1' }\npaths:\n  /items:\n    get:\n" +
        '      x-gatehouse-public: true\n      x-gatehouse-rate-limit: per-clinet\n' +
        "      responses:\n        '200': { description: ok }\n",
    );
    const config = path.join(dir, 'limited.yaml');
    await writeFile(config, gatehouseYaml('https://127.0.0.1:9000', './limited-api.yaml'));
    const failure = await run('node', [cli, 'check-config', '--config', config]).catch(
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect('code' in failure && failure.code).toBe(1);
    expect(failure.stdout).toMatch(/apis\.test\.openapi: .*per-clinet/);
    expect(failure.stdout + ('stderr' in failure ? failure.stderr : '')).not.toMatch(/\n\s+at /);
  });
});

describe('gatehouse start: reload on SIGHUP', () => {
  let dir: string;
  let certs: DevCertificates;
  let upstream: TestUpstream;
  let child: ChildProcessWithoutNullStreams;
  let output = '';
  let agent: Agent;
  let base = '';

  const waitFor = async (pattern: RegExp, from: number): Promise<RegExpMatchArray> => {
    for (let i = 0; i < 100; i += 1) {
      const match = output.slice(from).match(pattern);
      if (match !== null) return match;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${String(pattern)} in:\n${output}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-reload-'));
    certs = await ensureDevCertificates(path.join(dir, 'state'));
    upstream = await startTestUpstream(certs, { slowMs: 800 });
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
    await writeFile(path.join(dir, 'gatehouse.yaml'), gatehouseYaml(upstream.url));
    child = spawn('node', [cli, 'start', '--config', path.join(dir, 'gatehouse.yaml')]);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const listening = await waitFor(/"url":"(https:\/\/127\.0\.0\.1:\d+)"/, 0);
    base = listening[1]!;
    agent = new Agent({ connect: { ca: certs.caCert } });
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await agent.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a broken new configuration and keeps serving the old one', async () => {
    expect((await fetchResponse(agent, `${base}/items/1`, {})).status).toBe(200);
    await writeFile(
      path.join(dir, 'gatehouse.yaml'),
      'listeners: [ { name: public, port: "nope" } ]\napis: 7\n',
    );
    const mark = output.length;
    child.kill('SIGHUP');
    await waitFor(/reload refused; the previous configuration keeps serving/, mark);
    const hits = upstream.hits('/items/2');
    expect((await fetchResponse(agent, `${base}/items/2`, {})).status).toBe(200);
    expect(upstream.hits('/items/2')).toBe(hits + 1);
  });

  it('applies a good new configuration without dropping a request in flight', async () => {
    const inFlight = fetchResponse(agent, `${base}/slow`, {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The new contract no longer declares /items/{id}.
    await writeFile(
      path.join(dir, 'smaller-api.yaml'),
      "openapi: 3.1.0\ninfo: { title: smaller, version: '1' }\npaths:\n  /slow:\n    get:\n      responses:\n        '200': { description: ok }\n",
    );
    await writeFile(path.join(dir, 'gatehouse.yaml'), gatehouseYaml(upstream.url, './smaller-api.yaml'));
    const mark = output.length;
    child.kill('SIGHUP');
    await waitFor(/configuration reloaded/, mark);
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(slow.text).toBe('late');
    expect((await fetchResponse(agent, `${base}/items/1`, {})).status).toBe(404);
  });

  it('stops gracefully on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('gatehouse start: log files reopened on SIGUSR2 (log rotation)', () => {
  let dir: string;
  let upstream: TestUpstream;
  let child: ChildProcessWithoutNullStreams;
  let agent: Agent;
  let output = '';
  const file = (name: string): Promise<string> => readFile(path.join(dir, name), 'utf8').catch(() => '');
  const eventually = async (check: () => Promise<boolean>, tries = 100): Promise<void> => {
    for (let i = 0; i < tries && !(await check()); i += 1) await new Promise((r) => setTimeout(r, 50));
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-rotate-'));
    const certs = await ensureDevCertificates(path.join(dir, 'state'));
    upstream = await startTestUpstream(certs);
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
    await writeFile(
      path.join(dir, 'gatehouse.yaml'),
      gatehouseYaml(upstream.url).replace('destination: stdout', 'destination: ./access.log') +
        'monitoring: { events: { destination: ./events.log } }\n',
    );
    // Two workers, each writing to the same files: each must reopen them.
    child = spawn('node', [cli, 'start', '--config', path.join(dir, 'gatehouse.yaml'), '--workers', '2']);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    agent = new Agent({ connect: { ca: certs.caCert } });
    // Both workers serve (on a busy machine, several seconds).
    await eventually(async () => /"msg":"workers serving"/.test(await file('access.log')), 400);
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await agent.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes to the moved files until SIGUSR2, then to new files at the configured paths', async () => {
    const base = /"url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(await file('access.log'))![1]!;
    const before = await fetchResponse(agent, `${base}/nowhere`, {});
    expect(before.status).toBe(404);
    await eventually(async () => (await file('events.log')).includes(String(before.headers['x-request-id'])));
    await rename(path.join(dir, 'access.log'), path.join(dir, 'access.log.1'));
    await rename(path.join(dir, 'events.log'), path.join(dir, 'events.log.1'));
    child.kill('SIGUSR2');
    await eventually(async () => (await file('access.log')).split('log files reopened').length === 3);
    const after = await fetchResponse(agent, `${base}/nowhere`, {});
    const afterId = String(after.headers['x-request-id']);
    await eventually(async () => (await file('events.log')).includes(afterId));
    await eventually(async () => (await file('access.log')).includes(afterId));
    expect(await file('access.log')).toContain(afterId);
    expect(await file('events.log')).toContain('"type":"route.refused"');
    expect(await file('access.log.1')).toContain(String(before.headers['x-request-id']));
    expect(await file('access.log.1')).not.toContain(afterId);
    expect(await file('events.log.1')).not.toContain(afterId);
    expect(output).toBe('');
  });
});
