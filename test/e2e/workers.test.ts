import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.js';
import type { HttpResponse as HarnessResponse } from '../support/gateway-harness.js';
import { expectProblem } from '../support/problems.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const run = promisify(execFile);
const ADMIN_TOKEN = 'workers-test-admin-token-0123456789abcdef';

const OPENAPI = `openapi: 3.1.0
info: { title: workers, version: 1.0.0 }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-API-Key }
security: [ { key: [] } ]
paths:
  /items/{id}:
    get:
      parameters: [ { name: id, in: path, required: true, schema: { type: string, maxLength: 32 } } ]
      responses:
        '200': { description: an item }
        '404': { description: no such item }
  /slow:
    get:
      responses:
        '200': { description: answers late }
`;

interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request on a connection of its own: the primary hands each connection to the next worker. */
function request(
  port: number,
  urlPath: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body = '',
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method, headers, agent: false, rejectUnauthorized: false },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `gatehouse start --workers 2` with its log collected; resolves once both workers and the admin API listen. */
async function startWorkers(
  config: string,
  env: NodeJS.ProcessEnv,
): Promise<{
  child: ChildProcess;
  log: () => string;
  port: number;
  adminPort: number;
}> {
  const child = spawn('node', [cli, 'start', '--config', config, '--workers', '2'], { env });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 400 && !output.includes('"msg":"workers serving"'); i += 1) {
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  expect(output).toContain('"msg":"workers serving"');
  const port = Number(/"msg":"listening".*?"url":"https:\/\/[^"]*:(\d+)"/.exec(output)![1]);
  const adminPort = Number(/"msg":"admin API listening","url":"https:\/\/[^"]*:(\d+)"/.exec(output)![1]);
  return { child, log: () => output, port, adminPort };
}

/** A response in the shape the shared problem assertions take. */
function asResponse(response: HttpResponse): HarnessResponse {
  return { ...response, text: response.body, json: () => JSON.parse(response.body) as unknown };
}

/** The workers (their `worker` field; undefined for the primary) that wrote lines with this message. */
function writers(log: string, msg: string): Set<number | undefined> {
  const workers = new Set<number | undefined>();
  for (const line of log.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    workers.add((JSON.parse(line) as { worker?: number }).worker);
  }
  return workers;
}

/** The sum of a metric's samples whose labels include `label`, from the Prometheus text. */
function sumOf(metrics: string, name: string, label: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
    .reduce((n, line) => n + Number(line.split(' ').pop()), 0);
}

/** The first log line with this message. */
function lineOf(log: string, msg: string): string {
  return log.split('\n').find((line) => line.includes(`"msg":"${msg}"`)) ?? '{}';
}

/** Waits (up to 5 s) until `check` holds: log lines are written out within 100 ms, not at once. */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !check(); i += 1) await sleep(100);
}

describe('gatehouse start --workers 2: one listener, two whole gateways', { timeout: 90_000 }, () => {
  let dir: string;
  let certs: DevCertificates;
  let upstream: TestUpstream;
  let config: string;
  let env: NodeJS.ProcessEnv;
  let gateway: Awaited<ReturnType<typeof startWorkers>>;
  let key: string;
  let keyId: string;
  let other: string;
  let third: string;
  let prober: string;
  /** Requests served so far, for the counts the whole gateway reports. */
  let served = 0;

  /** The workers (from the access log) that served these answers. */
  const servedBy = (responses: readonly HttpResponse[]): Set<number> => {
    const ids = new Set(responses.map((a) => String(a.headers['x-request-id'])));
    const workers = new Set<number>();
    for (const line of gateway.log().split('\n')) {
      if (!line.includes('"msg":"request"')) continue;
      const record = JSON.parse(line) as { reqId: string; worker: number };
      if (ids.has(record.reqId)) workers.add(record.worker);
    }
    return workers;
  };
  /** Requests, four at a time, until both workers have answered some (each accepts for itself). */
  const fromBothWorkers = async (send: () => Promise<HttpResponse>): Promise<HttpResponse[]> => {
    const responses: HttpResponse[] = [];
    for (let round = 0; round < 20 && servedBy(responses).size < 2; round += 1) {
      responses.push(...(await Promise.all(Array.from({ length: 4 }, send))));
      await sleep(150); // the access lines are written out
    }
    expect(servedBy(responses)).toEqual(new Set([0, 1]));
    return responses;
  };
  const admin = (method: string, urlPath: string, body?: unknown): Promise<HttpResponse> =>
    request(
      gateway.adminPort,
      urlPath,
      {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      method,
      body === undefined ? '' : JSON.stringify(body),
    );
  const createKey = async (consumer: string): Promise<{ key: string; id: string }> => {
    const { stdout } = await run(
      'node',
      [cli, 'keys', 'create', '--consumer', consumer, '--json', '--config', config],
      { env },
    );
    const created = JSON.parse(stdout) as { key: string; record: { id: string } };
    return { key: created.key, id: created.record.id };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-workers-'));
    certs = await ensureDevCertificates(path.join(dir, 'state'));
    upstream = await startTestUpstream(certs, { slowMs: 1500 });
    await writeFile(path.join(dir, 'api.yaml'), OPENAPI);
    config = path.join(dir, 'gatehouse.yaml');
    await writeFile(
      config,
      `stateDir: ./state
listeners: [ { name: public, host: 127.0.0.1, port: 0, tls: dev } ]
apis:
  - { name: items, openapi: ./api.yaml, upstream: { url: "${upstream.url}", tls: dev } }
rateLimits:
  apply: [per-caller]
  policies:
    per-caller: { key: [principal], limit: 1000, window: 1m }
keys: { sync: { pollMs: 100 } }
preAuthLimit: { failedAuth: { limit: 1000, window: 1m } }
monitoring:
  detectors:
    enumeration: { threshold: 40, window: 1m, actions: [ban], banFor: 10m }
admin: { port: 0, token: env:GH_WORKERS_ADMIN_TOKEN }
log: { level: info, access: true, destination: stdout }
`,
    );
    env = { ...process.env, GH_WORKERS_ADMIN_TOKEN: ADMIN_TOKEN };
    ({ key, id: keyId } = await createKey('alice'));
    ({ key: other } = await createKey('bob'));
    ({ key: third } = await createKey('carol'));
    ({ key: prober } = await createKey('mallory'));
    gateway = await startWorkers(config, env);
  });

  afterAll(async () => {
    if (gateway?.child.exitCode === null) {
      gateway.child.kill('SIGKILL');
      await sleep(200);
    }
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves every request through both workers, each limit split between them and said so', async () => {
    await eventually(() => writers(gateway.log(), 'listening').size === 2);
    expect(writers(gateway.log(), 'listening')).toEqual(new Set([0, 1]));
    const before = upstream.hits('/items/');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(gateway.port, `/items/${i}`, { 'x-api-key': other })),
    );
    expect(responses.map((a) => a.status)).toEqual(responses.map(() => 200));
    expect(upstream.hits('/items/') - before).toBe(20);
    served += 20;
    // Without Redis each worker admits its share, 1000 / 2, and the header says so.
    expect(responses[0]!.headers['ratelimit-policy']).toBe('"per-caller";q=500;w=60');
    // Each worker accepts for itself: a few more connections, until both have taken some.
    for (let i = 0; i < 20 && writers(gateway.log(), 'request').size < 2; i += 1) {
      await sleep(150);
      const more = await Promise.all(
        Array.from({ length: 5 }, () => request(gateway.port, '/items/more', { 'x-api-key': other })),
      );
      served += more.filter((a) => a.status === 200).length;
    }
    expect(writers(gateway.log(), 'request')).toEqual(new Set([0, 1]));
  });

  it('answers metrics, the summary, events, journeys and readiness for the whole gateway', async () => {
    const responded = await Promise.all(
      Array.from({ length: 6 }, (_, i) => request(gateway.port, `/items/j${i}`, { 'x-api-key': other })),
    );
    const refused = await Promise.all(
      Array.from({ length: 24 }, () => request(gateway.port, '/items/1', { 'x-api-key': 'gk_live_wrong' })),
    );
    expect(refused.map((a) => a.status)).toEqual(refused.map(() => 401));
    for (const response of responded) {
      const id = String(response.headers['x-request-id']);
      const found = await admin('GET', `/journeys/${id}`);
      expect(found.status).toBe(200);
      expect((JSON.parse(found.body) as { journey: { requestId: string } }).journey.requestId).toBe(id);
    }
    const summary = JSON.parse((await admin('GET', '/summary')).body) as {
      totals: { requests: number; refused: number };
    };
    expect(summary.totals.requests).toBe(served + 6 + 24);
    expect(summary.totals.refused).toBe(24);
    const metrics = (await admin('GET', '/metrics')).body;
    const sum = (name: string, label: string): number => sumOf(metrics, name, label);
    expect(sum('gatehouse_requests_total', 'status="200"')).toBe(served + 6);
    // Every worker's events, once each: the lead counts them, the others send them in batches.
    expect(sum('gatehouse_security_events_total', 'type="auth.refused"')).toBe(24);
    const events = JSON.parse((await admin('GET', '/events?type=auth.refused&limit=100')).body) as {
      events: unknown[];
    };
    expect(events.events).toHaveLength(24);
    // Readiness too: every worker's checks, and whether every worker answered.
    const readyz = await admin('GET', '/readyz');
    expect([readyz.status, JSON.parse(readyz.body)]).toEqual([
      200,
      { status: 'ready', checks: { config: 'ok', keys: 'ok', upstreams: 'ok', workers: 'ok' } },
    ]);
  });

  it('refuses a key on every worker within a second of its revocation through the admin API', async () => {
    expect((await request(gateway.port, '/items/1', { 'x-api-key': key })).status).toBe(200);
    expect((await admin('POST', `/keys/${keyId}/revoke`)).status).toBe(200);
    const before = upstream.hits('/items/');
    await sleep(1000);
    const responses = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': key }));
    for (const response of responses) expectProblem(asResponse(response), 401, 'auth-unauthenticated');
    expect(upstream.hits('/items/') - before).toBe(0);
  });

  it('carries a ban set on the lead to the other worker, and its lifting', async () => {
    const set = await admin('POST', '/bans', { kind: 'consumer', value: 'bob', duration: '10m' });
    expect(set.status).toBe(201);
    const before = upstream.hits('/items/');
    await sleep(200);
    const banned = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': other }));
    for (const response of banned) expectProblem(asResponse(response), 403, 'access-banned');
    expect(upstream.hits('/items/') - before).toBe(0);
    const id = (JSON.parse(set.body) as { ban: { id: string } }).ban.id;
    expect((await admin('DELETE', `/bans/${id}`)).status).toBe(200);
    await sleep(200);
    const lifted = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': other }));
    expect(lifted.map((a) => a.status)).toEqual(lifted.map(() => 200));
  });

  it("counts a caller's probes over both workers as one, and bans it on both at the file's threshold", async () => {
    const before = upstream.hits('/items/');
    const probe = (n: number): Promise<HttpResponse> =>
      request(gateway.port, `/items/missing-${n}`, { 'x-api-key': prober });
    // Four probes at a time, each on a connection of its own, until both workers have served some.
    const probes: HttpResponse[] = [];
    for (let round = 0; round < 9 && servedBy(probes).size < 2; round += 1) {
      probes.push(...(await Promise.all([0, 1, 2, 3].map((i) => probe(probes.length + i)))));
      await sleep(150); // the access lines are written out
    }
    expect(servedBy(probes)).toEqual(new Set([0, 1]));
    while (probes.length < 39) probes.push(await probe(probes.length));
    // 39 distinct ids: under the threshold of 40 however they were spread, so nothing is refused.
    expect(probes.map((a) => a.status)).toEqual(probes.map(() => 404));
    // An id probed already adds nothing: the caller is still served.
    expect((await probe(0)).status).toBe(404);
    await sleep(300);
    expect((await request(gateway.port, '/items/1', { 'x-api-key': prober })).status).toBe(200);
    expect((await probe(39)).status).toBe(404);
    await sleep(300); // the other worker's signals reach the lead within 20 ms, its ban comes back
    const banned = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': prober }));
    for (const response of banned) expectProblem(asResponse(response), 403, 'access-banned');
    expect(upstream.hits('/items/') - before).toBe(42);
    const fired = JSON.parse((await admin('GET', '/events?type=detector.fired')).body) as {
      events: { data: { detector: string; count: number } }[];
    };
    expect(fired.events.map((event) => [event.data.detector, event.data.count])).toEqual([
      ['enumeration', 40],
    ]);
  });

  it('replaces a worker that dies while the other keeps serving, with the bans in force', async () => {
    expect((await admin('POST', '/bans', { kind: 'consumer', value: 'carol', duration: '10m' })).status).toBe(
      201,
    );
    const pids = (JSON.parse(lineOf(gateway.log(), 'workers serving')) as { pids: number[] }).pids;
    const servedBefore = sumOf(
      (await admin('GET', '/metrics')).body,
      'gatehouse_requests_total',
      'status="200"',
    );
    process.kill(pids[1]!, 'SIGKILL');
    // Once the primary has seen it die, every request goes to the worker that lives.
    await eventually(() => gateway.log().includes('"msg":"worker exited (SIGKILL)'));
    expect(gateway.log()).toContain('"msg":"worker exited (SIGKILL)');
    const statuses: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      statuses.push((await request(gateway.port, `/items/d${i}`, { 'x-api-key': other })).status);
      await sleep(50);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    await eventually(() => gateway.log().includes('"msg":"worker replaced"'));
    const replaced = JSON.parse(lineOf(gateway.log(), 'worker replaced')) as { worker: number; pid: number };
    expect(replaced.worker).toBe(1);
    expect(replaced.pid).not.toBe(pids[1]);
    // The dead worker's counts stay in the sums: a counter never goes down.
    const servedAfter = sumOf(
      (await admin('GET', '/metrics')).body,
      'gatehouse_requests_total',
      'status="200"',
    );
    expect(servedAfter).toBe(servedBefore + 20);
    // The replacement took the bans in force, and reads the keys as they stand.
    const before = upstream.hits('/items/');
    const banned = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': third }));
    for (const response of banned) expectProblem(asResponse(response), 403, 'access-banned');
    const revoked = await fromBothWorkers(() => request(gateway.port, '/items/1', { 'x-api-key': key }));
    for (const response of revoked) expectProblem(asResponse(response), 401, 'auth-unauthenticated');
    expect(upstream.hits('/items/') - before).toBe(0);
  });

  it('reloads every worker on SIGHUP and drains every worker on SIGTERM', async () => {
    const text = await readFile(config, 'utf8');
    await writeFile(config, text.replace('limit: 1000', 'limit: 600'));
    gateway.child.kill('SIGHUP');
    await eventually(() => writers(gateway.log(), 'configuration reloaded').size === 2);
    expect(writers(gateway.log(), 'configuration reloaded')).toEqual(new Set([0, 1]));
    const after = await Promise.all(
      Array.from({ length: 4 }, () => request(gateway.port, '/items/1', { 'x-api-key': other })),
    );
    for (const response of after)
      expect(response.headers['ratelimit-policy']).toBe('"per-caller";q=300;w=60');

    const slow = Promise.all(
      Array.from({ length: 4 }, () => request(gateway.port, '/slow', { 'x-api-key': other })),
    );
    await sleep(400);
    const exit = new Promise<number | null>((resolve) => gateway.child.once('exit', resolve));
    gateway.child.kill('SIGTERM');
    expect((await slow).map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await exit).toBe(0);
    expect(writers(gateway.log(), 'stopping')).toEqual(new Set([undefined, 0, 1]));
  });
});

describe('gatehouse start --workers: what refuses to start', { timeout: 30_000 }, () => {
  it('says a bad configuration once, and exits 1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-workers-bad-'));
    const config = path.join(dir, 'gatehouse.yaml');
    await writeFile(config, 'listeners: []\napis: []\n');
    const result = await run('node', [cli, 'start', '--config', config, '--workers', '2']).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).toBe(1);
    expect(result.stderr.match(/Invalid configuration/g)).toHaveLength(1);
    await rm(dir, { recursive: true, force: true });
  });

  it('says a port another process holds in one line an operator can act on, with workers or without', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-workers-port-'));
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    await writeFile(path.join(dir, 'api.yaml'), OPENAPI);
    const config = path.join(dir, 'gatehouse.yaml');
    await writeFile(
      config,
      `stateDir: ./state\nlisteners: [ { name: public, host: 127.0.0.1, port: ${port}, tls: dev } ]\n` +
        'apis:\n  - { name: items, openapi: ./api.yaml, upstream: { url: "https://127.0.0.1:9", tls: dev } }\n' +
        'log: { level: warn, destination: stdout }\n',
    );
    for (const workers of ['1', '2']) {
      const result = await run('node', [cli, 'start', '--config', config, '--workers', workers]).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process holds it or the address is not ` +
          "this machine's; stop that process or change the port in the configuration\n",
      );
    }
    holder.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a worker count that is not a whole number from 1 to 64', async () => {
    for (const bad of ['0', '65', 'two', '1.5']) {
      const result = await run('node', [cli, 'start', '--config', 'x.yaml', '--workers', bad]).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`--workers ${bad}: use a whole number from 1 to 64`);
    }
  });
});
