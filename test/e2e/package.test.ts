/**
 * Gatehouse as a package: `npm pack` of this checkout (built by `npm test`), installed into an
 * empty folder from the tarball and the npm registry (the cache first), as a user on a fresh
 * machine would. Its `gatehouse` command checks a configuration, manages keys and serves, without
 * the demo bank's dependencies; `gatehouse demo` says where the demo runs instead of crashing.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchResponse } from '../support/gateway-harness.js';
import { expectProblem } from './auth-support.js';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const openapi = `openapi: 3.1.0
info: { title: package test, version: 1.0.0 }
components:
  securitySchemes:
    apiKey: { type: apiKey, in: header, name: X-API-Key }
security: [ { apiKey: [] } ]
paths:
  /items/{id}:
    get:
      parameters: [ { name: id, in: path, required: true, schema: { type: string, maxLength: 16 } } ]
      responses:
        '200': { description: an item, content: { application/json: { schema: { type: object, properties: { ok: { type: boolean } } } } } }
`;

describe('the package, installed from its tarball into an empty folder', { timeout: 300_000 }, () => {
  let dir: string;
  let upstream: http.Server;
  let bin: string;
  const gatehouse = (...args: string[]) => exec(bin, args, { cwd: dir });
  const failureOf = (...args: string[]) =>
    gatehouse(...args).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (err: { code: number; stderr: string; stdout: string }) => err,
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-package-'));
    // dist/ is what `npm test` has just built: pack it as it is.
    const packed = await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tarball = path.join(dir, packed.stdout.trim().split('\n').at(-1)!);
    await writeFile(path.join(dir, 'package.json'), '{ "name": "app", "private": true }\n');
    await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: dir,
      maxBuffer: 16 << 20,
    });
    bin = path.join(dir, 'node_modules', '.bin', 'gatehouse');
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    await writeFile(path.join(dir, 'api.yaml'), openapi);
    await writeFile(
      path.join(dir, 'gatehouse.yaml'),
      `stateDir: ./state\nlisteners:\n  - { name: public, host: 127.0.0.1, port: 0, tls: dev }\n` +
        `apis:\n  - name: items\n    openapi: ./api.yaml\n` +
        `    upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }\n`,
    );
  }, 240_000); // the install builds better-sqlite3 (an optional native dependency) where it can
  afterAll(async () => {
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the built gateway and its docs, and installs none of the demo bank’s dependencies', async () => {
    const installed = path.join(dir, 'node_modules');
    const manifest = JSON.parse(
      await readFile(path.join(installed, 'gatehouse-gateway', 'package.json'), 'utf8'),
    ) as {
      bin: Record<string, string>;
    };
    expect(manifest.bin).toEqual({ gatehouse: 'dist/cli.js' });
    const files = await readdir(path.join(installed, 'gatehouse-gateway'));
    expect(files.sort()).toEqual(['README.md', 'dist', 'docs', 'package.json']);
    const packages = await readdir(installed);
    for (const unwanted of ['fastify', 'argon2', 'wabt', 'vitest']) expect(packages).not.toContain(unwanted);
  });

  it('checks a configuration: valid, then a broken one with its key and exit 1', async () => {
    const valid = await gatehouse('check-config', '--offline', '--config', 'gatehouse.yaml');
    expect(valid.stdout).toMatch(/configuration is valid \(1 API\(s\), 1 listener\(s\)\)/);
    await writeFile(path.join(dir, 'broken.yaml'), 'stateDir: ./state\nlisteners: []\napis: []\n');
    const broken = await failureOf('check-config', '--offline', '--config', 'broken.yaml');
    expect(broken.code).toBe(1);
    expect(broken.stdout + broken.stderr).toMatch(/listeners/);
  });

  it('creates and lists keys, and serves a request with one; the upstream is reached only then', async () => {
    const created = JSON.parse(
      (await gatehouse('keys', 'create', '--config', 'gatehouse.yaml', '--consumer', 'app', '--json')).stdout,
    ) as { key: string; record: { id: string } };
    expect((await gatehouse('keys', 'list', '--config', 'gatehouse.yaml')).stdout).toContain(
      created.record.id,
    );

    let hits = 0;
    upstream.on('request', () => (hits += 1));
    const child = spawn(bin, ['start', '--config', 'gatehouse.yaml'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /"url":"https:\/\/[^"]*:(\d+)"/.exec(out);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`gatehouse exited (${code}): ${out}`)));
      });
      const base = `https://127.0.0.1:${port}/items/1`;
      const refused = await fetchResponse(agent, base, {});
      expectProblem(refused, 401, 'auth-unauthenticated');
      expect(hits).toBe(0);
      const served = await fetchResponse(agent, base, { headers: { 'x-api-key': created.key } });
      expect(served.status).toBe(200);
      expect(served.json()).toEqual({ ok: true });
      expect(hits).toBe(1);
    } finally {
      await agent.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('says where the demo runs instead of failing on a missing module', async () => {
    const demo = await failureOf('demo');
    expect(demo.code).toBe(1);
    expect(demo.stderr.trim()).toBe(
      'gatehouse: the demo runs in a checkout of Gatehouse (npm install && npm start there): ' +
        'the package installs the gateway, not the demo bank',
    );
  });
});
