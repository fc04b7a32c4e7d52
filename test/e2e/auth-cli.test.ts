import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);
const failureOf = (args: string[]) =>
  run('node', [cli, ...args]).then(
    () => ({ code: 0, stdout: '' }),
    (err: { code: number; stdout: string }) => err,
  );

const config = (extra = '') => `stateDir: ./state
listeners: [ { name: public, port: 8443, tls: dev } ]
apis: [ { name: shop, openapi: ./api.yaml, upstream: { url: "https://127.0.0.1:8444" } } ]
${extra}`;

const api = (operation: string) => `openapi: 3.1.0
info: { title: shop, version: "1" }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    queryKey: { type: apiKey, in: query, name: key }
paths:
  /open:
    get: { x-gatehouse-public: true, responses: { '200': { description: ok } } }
  /forgotten:
    get: { responses: { '200': { description: no security } } }
  /query:
    get: { security: [ { queryKey: [] } ], responses: { '200': { description: never } } }
  /other:
    get: { ${operation} responses: { '200': { description: other } } }
`;

describe('gatehouse check-config and signing-key rotate (auth)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-auth-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('warns about operations refused by default and schemes never accepted, and still passes', async () => {
    await writeFile(path.join(dir, 'api.yaml'), api('security: [ { bearer: [] } ],'));
    await writeFile(path.join(dir, 'gatehouse.yaml'), config());
    const { stdout } = await run('node', [cli, 'check-config', '--config', path.join(dir, 'gatehouse.yaml')]);
    expect(stdout).toMatch(
      /warning: apis\.shop: GET \/forgotten: every request is refused \(403\): default deny: the operation declares no security and is not marked x-gatehouse-public/,
    );
    expect(stdout).toMatch(
      /warning: apis\.shop: GET \/query: scheme "queryKey" is never accepted: API keys in the query string/,
    );
    expect(stdout).not.toMatch(/GET \/open: every request/);
    expect(stdout).toContain('configuration is valid');
  });

  it('fails on security Gatehouse cannot enforce, saying where', async () => {
    await writeFile(path.join(dir, 'api.yaml'), api('security: [ {}, { bearer: [] } ],'));
    const failure = await failureOf(['check-config', '--config', path.join(dir, 'gatehouse.yaml')]);
    expect(failure.code).toBe(1);
    expect(failure.stdout).toMatch(
      /apis\.shop\.openapi: .*api\.yaml at \/paths\/~1other\/get: security lists \{\} \(anonymous access\): mark the operation x-gatehouse-public/,
    );
  });

  it('rotates the signing key in the state folder, and refuses when keys come from the configuration', async () => {
    await writeFile(path.join(dir, 'api.yaml'), api(''));
    const file = path.join(dir, 'gatehouse.yaml');
    const first = await run('node', [cli, 'signing-key', 'rotate', '--config', file]);
    const second = await run('node', [cli, 'signing-key', 'rotate', '--config', file]);
    expect(first.stdout).toMatch(
      /^new signing key [A-Za-z0-9_-]{43} in .*: gateways sharing that folder publish it within a second and sign with it from \d{4}-\d\d-\d\dT/,
    );
    expect(second.stdout).not.toBe(first.stdout);
    expect(await readdir(path.join(dir, 'state', 'signing-keys'))).toHaveLength(2);
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    await writeFile(path.join(dir, 'signing.pem'), pem);
    await writeFile(file, config('auth: { signingKeys: ["file:./signing.pem"] }\n'));
    const refused = await failureOf(['signing-key', 'rotate', '--config', file]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/rotate by putting a new key first in that list/);
  });
});
