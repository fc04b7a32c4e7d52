import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/index.js';
import { fixtures } from '../support/gateway-harness.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);

function configYaml(extra = ''): string {
  return `listeners:
  - { name: public, host: 127.0.0.1, port: 0, tls: dev }
apis:
  - name: bank
    openapi: ./validation-api.yaml
    upstream: { url: "https://127.0.0.1:9000", tls: dev }
${extra}`;
}

describe('check-config and the contract', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-validation-cli-'));
    await copyFile(path.join(fixtures, 'validation-api.yaml'), path.join(dir, 'validation-api.yaml'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('warns about the doors the document leaves open, and still exits 0', async () => {
    const file = path.join(dir, 'gatehouse.yaml');
    await writeFile(file, configYaml());
    const { stdout, stderr } = await run('node', [cli, 'check-config', '--config', file]);
    expect(stderr).toBe('');
    expect(stdout).toContain('warning: apis.bank: GET /v/reports/{name}: responses.200: has no schema');
    expect(stdout).toContain(
      'warning: apis.bank: GET /v/crash: responses.200: object declares no properties',
    );
    expect(stdout).toContain(
      'warning: apis.bank: POST /v/documents: body: object allows additional properties',
    );
    expect(stdout).not.toContain('path.name: string has no maxLength'); // its pattern bounds it
    expect(stdout).toContain(
      'warning: apis.bank: GET /v/public: security: declares no security (x-gatehouse-public)',
    );
    expect(stdout).not.toContain('POST /v/transfers: body.memo');
    expect(stdout).toContain('configuration is valid');
  });

  it('refuses a schema the gateway cannot compile, with exit code 1', async () => {
    await writeFile(
      path.join(dir, 'bad-api.yaml'),
      "openapi: 3.1.0\ninfo: { title: bad, version: '1' }\npaths:\n  /x:\n    get:\n      x-gatehouse-public: true\n" +
        "      parameters: [ { name: q, in: query, schema: { type: string, pattern: '([a-z' } } ]\n" +
        "      responses: { '200': { description: ok } }\n",
    );
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, configYaml().replace('./validation-api.yaml', './bad-api.yaml'));
    const failure = await run('node', [cli, 'check-config', '--config', file]).catch(
      (err: { code: number; stdout: string }) => err,
    );
    expect('code' in failure && failure.code).toBe(1);
    expect(failure.stdout).toMatch(
      /apis\.bank\.openapi: .*bad-api\.yaml at \/paths\/~1x\/get\/parameters.*cannot be compiled/,
    );
  });

  it('refuses "*" with credentials in the CORS section, saying why', async () => {
    const file = path.join(dir, 'cors.yaml');
    await writeFile(file, configYaml('cors:\n  allowedOrigins: ["*"]\n  allowCredentials: true\n'));
    const { config, issues } = await checkConfig(file, {});
    expect(config).toBeNull();
    expect(issues.map((issue) => `${issue.message} — ${issue.hint}`)).toEqual([
      expect.stringMatching(
        /"\*" is not allowed here — .*"\*" with credentials would let any site call the API as the user/,
      ),
    ]);
    await writeFile(file, configYaml('cors:\n  allowedOrigins: ["*"]\n'));
    expect((await checkConfig(file, {})).config?.cors).toMatchObject({
      allowedOrigins: ['*'],
      allowCredentials: false,
    });
    await writeFile(file, configYaml('cors:\n  allowedOrigins: ["https://app.example/path"]\n'));
    expect((await checkConfig(file, {})).issues).toHaveLength(1);
  });
});
