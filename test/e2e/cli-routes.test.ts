import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RouteRecord } from '../../src/cli/route-record.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);

interface Failure {
  code: number;
  stdout: string;
  stderr: string;
}

async function gatehouse(...args: string[]): Promise<Failure> {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    return err as Failure;
  }
}

/** A bearer scheme and an API key, a public operation, a condition, a limit, a login, default deny. */
const notesApi = `openapi: 3.1.0
info: { title: Notes, version: '1' }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    apiKey: { type: apiKey, in: header, name: X-Api-Key }
security: [{ bearer: [notes:read] }, { apiKey: [] }]
paths:
  /health:
    get:
      operationId: getHealth
      x-gatehouse-public: true
      responses: { '200': { description: ok } }
  /users/{username}:
    get:
      operationId: getUser
      parameters: [{ name: username, in: path, required: true, schema: { type: string, maxLength: 64 } }]
      x-gatehouse-scopes: [users:read]
      x-gatehouse-require: { roles: [member], path.username: principal.sub }
      x-gatehouse-rate-limit: per-user
      responses:
        '200':
          description: ok
          content: { application/json: { schema: { type: object, properties: { name: { type: string, maxLength: 9 } } } } }
  /login:
    post:
      operationId: login
      x-gatehouse-public: true
      x-gatehouse-login: { usernameField: username }
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, properties: { username: { type: string, maxLength: 64 } } }
      responses: { '200': { description: ok } }
  /admin:
    delete:
      operationId: wipe
      security: []
      responses: { '204': { description: gone } }
  /reports:
    get:
      operationId: listReports
      security: []
      x-gatehouse-require: { response.owner: principal.sub }
      responses: { '200': { description: ok } }
`;

/** The operator's policy: the vendor's document leaves /reports without security. */
const policyOverlay = `overlay: 1.0.0
info: { title: policy, version: '1' }
actions:
  - target: $.paths['/reports'].get
    update: { security: [{ bearer: [reports:read] }] }
`;

function gatehouseYaml(overlays: string): string {
  return `listeners: [{ name: public, host: 127.0.0.1, port: 0, tls: dev }]
apis:
  - name: notes
    openapi: ./notes-api.yaml
    overlays: ${overlays}
    upstream: { url: "https://127.0.0.1:9000", tls: dev }
    responseContract: reject
rateLimits:
  policies:
    per-user: { key: [principal], limit: 100, window: 1m }
`;
}

describe('gatehouse routes', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-routes-'));
    await writeFile(path.join(dir, 'notes-api.yaml'), notesApi);
    await writeFile(path.join(dir, 'policy.overlay.yaml'), policyOverlay);
    config = path.join(dir, 'gatehouse.yaml');
    await writeFile(config, gatehouseYaml('[./policy.overlay.yaml]'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('prints one aligned line per operation with what the gateway enforces, then the warnings', async () => {
    const { code, stdout, stderr } = await gatehouse('routes', '--config', config);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const lines = stdout.trimEnd().split('\n');
    const header = lines[0]!;
    expect(header).toMatch(/^API\s+METHOD\s+PATH\s+OPERATION\s+SECURITY\s+ACCESS\s+RATE LIMITS\s+PRE-AUTH/);
    const row = (operationId: string) => {
      const line = lines.find((l) => l.includes(` ${operationId} `));
      expect(line, operationId).toBeDefined();
      return line!;
    };
    // Aligned: each operation's security starts under the SECURITY title.
    const column = header.indexOf('SECURITY');
    expect(row('getUser').slice(column)).toMatch(/^bearer\[notes:read,users:read\] \| apiKey\[users:read\] /);
    expect(row('getHealth').slice(column)).toMatch(/^public /);
    expect(row('wipe').slice(column)).toMatch(/^DENIED \(no security\) /);
    // The overlay's security, not the document's `security: []`.
    expect(row('listReports').slice(column)).toMatch(
      /^bearer\[reports:read\] +response\.owner == principal\.sub /,
    );
    expect(row('getUser')).toMatch(/^notes\s+GET\s+\/users\/\{username\}\s+getUser /);
    expect(row('getUser')).toContain('roles member; path.username == principal.sub');
    expect(row('getUser')).toContain('per-user 100/1m');
    expect(row('getUser')).toContain('path.username; no body');
    expect(row('getUser')).toContain('reject: schema 200');
    expect(row('login')).toContain('login[username]');
    expect(row('login')).toContain('body application/json:schema');
    expect(row('wipe')).toContain('reject: no content 204');
    expect(lines).toContain(
      'warning: apis.notes: DELETE /admin: every request is refused (403): default deny: the operation declares no security and is not marked x-gatehouse-public',
    );
    expect(lines.filter((l) => l.startsWith('notes '))).toHaveLength(5);
  });

  it('--json prints only the JSON array, with the warnings on stderr', async () => {
    const { code, stdout, stderr } = await gatehouse('routes', '--config', config, '--json');
    expect(code).toBe(0);
    const records = JSON.parse(stdout) as RouteRecord[];
    expect(records.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /health',
      'GET /users/{username}',
      'POST /login',
      'DELETE /admin',
      'GET /reports',
    ]);
    const byId = new Map(records.map((r) => [r.operationId, r]));
    const user = byId.get('getUser')!;
    expect(user).toMatchObject({
      api: 'notes',
      documentPath: '/users/{username}',
      security: {
        mode: 'credential',
        summary: 'bearer[notes:read,users:read] | apiKey[users:read]',
        alternatives: [
          { scheme: 'bearer', kind: 'bearer', header: null, scopes: ['notes:read', 'users:read'] },
          { scheme: 'apiKey', kind: 'api-key', header: 'x-api-key', scopes: ['users:read'] },
        ],
        denyReason: null,
      },
      roles: ['member'],
      conditions: ['path.username == principal.sub'],
      forwardCredentials: [],
      rateLimits: [{ name: 'per-user', kind: 'rate', limit: 100, windowMs: 60_000, enforced: true }],
      preAuth: { rules: ['auth-failures'], countsFailedAuth: true, login: null },
      validation: {
        parameters: [{ in: 'path', name: 'username', required: true }],
        unknownQuery: 'refused',
        body: null,
      },
      response: {
        mode: 'reject',
        filtered: true,
        statuses: [{ status: '200', content: [{ type: 'application/json', schema: true }] }],
      },
    });
    expect(byId.get('getHealth')!.security).toMatchObject({ mode: 'public', summary: 'public' });
    expect(byId.get('wipe')!.security).toMatchObject({
      mode: 'deny',
      summary: 'DENIED (no security)',
      alternatives: [],
    });
    expect(byId.get('wipe')!.security.denyReason).toMatch(/^default deny/);
    expect(byId.get('listReports')!.security.summary).toBe('bearer[reports:read]');
    expect(byId.get('listReports')!.responseConditions).toEqual(['response.owner == principal.sub']);
    expect(user.responseConditions).toEqual([]);
    expect(byId.get('login')!.preAuth.login).toEqual({ usernameField: 'username', failedWhen: [] });
    expect(byId.get('login')!.validation.body).toEqual({
      required: true,
      mediaTypes: [{ type: 'application/json', check: 'schema' }],
    });
    expect(stderr).toContain('warning: apis.notes: DELETE /admin: every request is refused (403)');
  });

  it('shows the document as it is without the overlay: the operation it secured is denied', async () => {
    const bare = path.join(dir, 'bare.yaml');
    await writeFile(bare, gatehouseYaml('[]'));
    const { code, stdout } = await gatehouse('routes', '--config', bare, '--json');
    expect(code).toBe(0);
    const reports = (JSON.parse(stdout) as RouteRecord[]).find((r) => r.operationId === 'listReports')!;
    expect(reports.security.summary).toBe('DENIED (no security)');
  });

  it('exits 1 with the check-config messages and prints no table for a bad configuration', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, gatehouseYaml('[./policy.overlay.yaml]').replace('port: 0', 'port: 99999'));
    const failure = await gatehouse('routes', '--config', bad);
    expect(failure.code).toBe(1);
    expect(failure.stdout).toBe('');
    expect(failure.stderr).toMatch(/listeners\[0\]\.port \(line 1\): .+ — /);

    await writeFile(
      path.join(dir, 'typo-api.yaml'),
      notesApi.replace('rate-limit: per-user', 'rate-limit: per-usr'),
    );
    const typo = path.join(dir, 'typo.yaml');
    await writeFile(typo, gatehouseYaml('[]').replace('./notes-api.yaml', './typo-api.yaml'));
    const contract = await gatehouse('routes', '--config', typo, '--json');
    expect(contract.code).toBe(1);
    expect(contract.stdout).toBe('');
    expect(contract.stderr).toMatch(/^apis\.notes\.openapi: .*per-usr/m);
  });
});

/** A service document that declares no security at all, as vendors often publish them. */
const shopApi = `openapi: 3.1.0
info: { title: Shop, version: '2.0' }
paths:
  /health:
    get:
      operationId: getHealth
      responses: { '200': { description: ok } }
  /orders/{id}:
    parameters: [{ name: id, in: path, required: true, schema: { type: integer } }]
    get:
      operationId: getOrder
      responses: { '200': { description: ok } }
    delete:
      responses: { '204': { description: gone } }
  /orders:
    post:
      operationId: createOrder
      requestBody: { content: { application/json: { schema: { type: object } } } }
      responses: { '201': { description: created } }
`;

describe('gatehouse init', () => {
  let dir: string;
  let out: string;
  let configFile: string;
  let overlayFile: string;
  const init = (...extra: string[]) =>
    gatehouse(
      'init',
      '--openapi',
      path.join(dir, 'specs', 'shop.yaml'),
      '--upstream',
      'http://127.0.0.1:8081',
      '--name',
      'shop',
      '--out',
      out,
      ...extra,
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-init-'));
    await mkdir(path.join(dir, 'specs'));
    await writeFile(path.join(dir, 'specs', 'shop.yaml'), shopApi);
    out = path.join(dir, 'gateway');
    configFile = path.join(out, 'gatehouse.yaml');
    overlayFile = path.join(out, 'shop.overlay.yaml');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('writes a configuration that check-config accepts, and an overlay listing every operation', async () => {
    const { code, stdout, stderr } = await init();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(
      'warning: the document declares no securitySchemes: every operation is refused until the overlay (shop.overlay.yaml) adds security or marks it public',
    );
    expect(stdout).toMatch(
      /configuration is valid \(4 operation\(s\): 0 public, 0 with credentials, 4 refused/,
    );

    const configText = await readFile(configFile, 'utf8');
    expect(configText).toMatch(/^# warning: the document declares no securitySchemes/m);
    expect(configText).toMatch(/^# warning: the upstream is plain http:\/\//m);
    expect(configText).toMatch(
      /^#\s+- \{ issuer: shop, algorithms: \[HS256\], secret: env:SHOP_JWT_SECRET, allowMissingClaims: \[iss, aud\] \}$/m,
    );
    expect(configText).toMatch(/^# rateLimits:$/m);
    const config = parse(configText) as Record<string, unknown>;
    expect(config).toMatchObject({
      listeners: [{ name: 'public', host: '127.0.0.1', port: 8443, tls: 'dev' }],
      apis: [
        {
          name: 'shop',
          openapi: '../specs/shop.yaml',
          overlays: ['./shop.overlay.yaml'],
          upstream: { url: 'http://127.0.0.1:8081' },
        },
      ],
      log: { access: true },
    });

    const overlayText = await readFile(overlayFile, 'utf8');
    const overlay = parse(overlayText) as { overlay: string; info: object; actions: object[] };
    expect(overlay.overlay).toBe('1.0.0');
    expect(overlay.actions).toEqual([
      { target: "$.paths['/health'].get", update: {} },
      { target: "$.paths['/orders/{id}'].get", update: {} },
      { target: "$.paths['/orders/{id}'].delete", update: {} },
      { target: "$.paths['/orders'].post", update: {} },
    ]);
    expect(overlayText).toContain('# GET /orders/{id} (getOrder): refused today (403): default deny');
    expect(overlayText).toContain('# DELETE /orders/{id} (no operationId): refused today (403)');

    const check = await gatehouse('check-config', '--config', configFile);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('configuration is valid');
    expect(check.stdout).toContain('warning: apis.shop: GET /health: every request is refused (403)');

    const routes = await gatehouse('routes', '--config', configFile, '--json');
    const records = JSON.parse(routes.stdout) as RouteRecord[];
    expect(records.map((r) => r.security.summary)).toEqual(Array(4).fill('DENIED (no security)'));
  });

  it('gives an operation the policy the operator writes into its action', async () => {
    const text = await readFile(overlayFile, 'utf8');
    const edited = text.replace(
      "- target: $.paths['/health'].get\n    update: {}",
      "- target: $.paths['/health'].get\n    update: { x-gatehouse-public: true }",
    );
    expect(edited).not.toBe(text);
    await writeFile(overlayFile, edited);
    const { code, stdout } = await gatehouse('routes', '--config', configFile);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^shop\s+GET\s+\/health\s+getHealth\s+public\s/m);
    expect(stdout).toMatch(/^shop\s+GET\s+\/orders\/\{id\}\s+getOrder\s+DENIED \(no security\)/m);
  });

  it('refuses to overwrite the files without --force, and overwrites them with it', async () => {
    const before = await readFile(overlayFile, 'utf8');
    const refused = await init();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already exist: nothing written; give --force to overwrite/);
    expect(await readFile(overlayFile, 'utf8')).toBe(before);

    const forced = await init('--force');
    expect(forced.code).toBe(0);
    const overlay = parse(await readFile(overlayFile, 'utf8')) as { actions: { update: object }[] };
    expect(overlay.actions.map((action) => action.update)).toEqual(Array(4).fill({}));
  });
});
