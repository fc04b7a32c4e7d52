import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.js';
import { fetchResponse } from '../support/gateway-harness.js';
import { canRunRedisServer, freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

/**
 * The limits under load, with real processes: exactness across two gateway processes sharing
 * Redis, then fairness under a flood. One file, so the two never run at the same time and
 * disturb each other's measurements. Both need dist/ (npm run build).
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', '..', 'dist', 'cli.js');
const RATE = 50; // per second: a busy two-core machine still offers several times it
// A second of burst: a process the machine leaves unscheduled for a moment loses no admissions.
const BURST = RATE;
const HAMMER_MS = 10_000;
/** Hammering before and after the measured span: connections open, JIT warm, the bucket saturated. */
const MARGIN_MS = 1000;
const LOOPS_PER_GATEWAY = 12;

const exactnessApi = `openapi: 3.1.0
info: { title: exactness, version: 1.0.0 }
paths:
  /items/hammer/{id}:
    get:
      x-gatehouse-public: true
      x-gatehouse-rate-limit: { name: hammer, key: [operation], limit: ${RATE}, window: 1s, burst: ${BURST} }
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`;

function gatewayYaml(port: number, upstreamUrl: string, redisUrl: string, logFile: string): string {
  return `stateDir: ./state
listeners: [ { name: public, host: 127.0.0.1, port: ${port}, tls: dev } ]
apis:
  - name: test
    openapi: ./api.yaml
    upstream: { url: "${upstreamUrl}", tls: dev }
log: { level: info, access: false, destination: ${logFile} }
rateLimits: { replicas: 2 }
# Exactness is what this test is about: no shedding when a busy machine makes the event loop late.
concurrency: { maxEventLoopDelayMs: 60000 }
# Generous on purpose: this test is about Redis's exactness, not about its failure policy.
redis: { url: "${redisUrl}", timeoutMs: 1000 }
`;
}

const canRun = canRunRedisServer && existsSync(cli);

describe.skipIf(!canRun)(
  'exactness: two gateway processes sharing Redis (needs dist/: npm run build)',
  () => {
    let dir: string;
    let redis: RedisServer;
    let upstream: TestUpstream;
    let agent: Agent;
    const children: ChildProcess[] = [];
    const bases: string[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-exact-'));
      const certs = await ensureDevCertificates(path.join(dir, 'state'));
      [redis, upstream] = await Promise.all([startRedisServer(), startTestUpstream(certs)]);
      agent = new Agent({ connect: { ca: certs.caCert }, connections: LOOPS_PER_GATEWAY });
      await writeFile(path.join(dir, 'api.yaml'), exactnessApi);
      for (const name of ['one', 'two']) {
        const port = await freePort();
        const config = path.join(dir, `${name}.yaml`);
        await writeFile(config, gatewayYaml(port, upstream.url, redis.url, path.join(dir, `${name}.log`)));
        children.push(
          spawn(process.execPath, [cli, 'start', '--config', config], { cwd: dir, stdio: 'ignore' }),
        );
        bases.push(`https://127.0.0.1:${port}`);
      }
      for (const base of bases) await waitUntilServing(agent, base);
    });
    afterAll(async () => {
      for (const child of children) child.kill('SIGTERM');
      await agent?.close();
      await upstream?.close();
      await redis?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it(`admits within 1% of the limit while both hammer one key for ${HAMMER_MS / 1000} s`, async () => {
      const statuses = new Map<number, number>();
      let responded = 0;
      let until = Infinity;
      const loop = async (base: string, n: number): Promise<void> => {
        for (let i = 0; performance.now() < until; i += 1) {
          const response = await fetchResponse(agent, `${base}/items/hammer/${n}-${i}`, {});
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          responded += 1;
        }
      };
      const hammering = Promise.all(
        bases.flatMap((base) => Array.from({ length: LOOPS_PER_GATEWAY }, (_, n) => loop(base, n))),
      );
      // The span is measured where the admitted requests arrive (the upstream), in steady state:
      // the burst is long spent, so exactly RATE per second may pass.
      await sleep(MARGIN_MS);
      while ((statuses.get(429) ?? 0) < 2 * LOOPS_PER_GATEWAY) await sleep(50); // the burst is spent
      const [from, startedAt, respondedBefore] = [
        upstream.hits('/items/hammer/'),
        performance.now(),
        responded,
      ];
      await sleep(HAMMER_MS);
      const [to, endedAt, respondedAfter] = [upstream.hits('/items/hammer/'), performance.now(), responded];
      until = performance.now() + MARGIN_MS;
      await hammering;
      const seconds = (endedAt - startedAt) / 1000;
      const admitted = to - from;
      const expected = RATE * seconds;
      const offered = respondedAfter - respondedBefore;
      process.stdout.write(
        `exactness: ${admitted} admitted in ${seconds.toFixed(2)} s by two processes sharing Redis, ` +
          `${offered} requests offered in that time; expected ${expected.toFixed(0)} ` +
          `(${(((admitted - expected) / expected) * 100).toFixed(2)}%)\n`,
      );
      // The key must be hammered throughout, or the count says nothing about the limiter.
      expect(offered, 'the machine could not offer twice the limit').toBeGreaterThan(2 * expected);
      expect([...statuses.keys()].sort()).toEqual([200, 429]);
      expect(Math.abs(admitted - expected)).toBeLessThanOrEqual(expected * 0.01);
      // Every decision came from Redis, not from a process's local fallback share.
      for (const name of ['one', 'two']) {
        const log = await readFile(path.join(dir, `${name}.log`), 'utf8').catch(() => '');
        expect(log).not.toContain('rate-limit store unavailable');
      }
    }, 40_000);
  },
);

const flooder = path.join(here, 'limits-flooder.mjs');
const upstreamScript = path.join(here, 'limits-upstream.mjs');
const FLOOD = { connections: 128, rate: 20_000, ms: 7000 };
const HONEST_EVERY_MS = 20; // 50 requests per second, within its 100 per second
const UNLOADED_MS = 2000; // before the flood, and again after it
const LOADED_MS = 5000;

const fairnessApi = `openapi: 3.1.0
info: { title: fairness, version: 1.0.0 }
paths:
  /items/{id}:
    get:
      x-gatehouse-public: true
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200': { description: an item }
`;

interface Sample {
  readonly ok: boolean;
  readonly ms: number;
}

describe.skipIf(!existsSync(cli))(
  'fairness: an honest client keeps its answers while another floods (needs dist/)',
  () => {
    let dir: string;
    let certs: DevCertificates;
    let upstream: ChildProcess;
    let gateway: ChildProcess;
    let base: string;
    let honest: Agent;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-fair-'));
      certs = await ensureDevCertificates(path.join(dir, 'state'));
      // Gateway, upstream and flood each in a process of their own: this one only measures.
      upstream = spawn(process.execPath, [
        upstreamScript,
        certs.serverCertPath,
        certs.serverKeyPath,
        certs.caCertPath,
      ]);
      const upstreamPort = await new Promise<string>((resolve) =>
        upstream.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
      );
      const port = await freePort();
      await writeFile(path.join(dir, 'api.yaml'), fairnessApi);
      await writeFile(path.join(dir, 'ca.pem'), certs.caCert);
      await writeFile(
        path.join(dir, 'gatehouse.yaml'),
        `stateDir: ./state
listeners: [ { name: public, host: 127.0.0.1, port: ${port}, tls: dev } ]
apis:
  - name: test
    openapi: ./api.yaml
    upstream: { url: "https://127.0.0.1:${upstreamPort}", tls: dev }
log: { level: warn, access: false, destination: ${path.join(dir, 'gatehouse.log')} }
preAuthLimit:
  perAddress: { limit: 100, window: 1s, burst: 100 }
`,
      );
      gateway = spawn(process.execPath, [cli, 'start', '--config', path.join(dir, 'gatehouse.yaml')], {
        cwd: dir,
        stdio: 'ignore',
      });
      base = `https://127.0.0.1:${port}`;
      // The honest client comes from another address than the flood (loopback has them all).
      honest = new Agent({ localAddress: '127.0.0.2', connect: { ca: certs.caCert } });
      await waitUntilServing(honest, base, '/items/ready');
    });
    afterAll(async () => {
      gateway?.kill('SIGTERM');
      await honest?.close();
      upstream?.kill();
      await rm(dir, { recursive: true, force: true });
    });

    const runHonest = async (ms: number): Promise<Sample[]> => {
      const samples: Sample[] = [];
      const until = performance.now() + ms;
      for (let i = 0; performance.now() < until; i += 1) {
        const started = performance.now();
        const ok = await fetchResponse(honest, `${base}/items/honest-${i}`, {}).then(
          (response) => response.status === 200,
          () => false,
        );
        const took = performance.now() - started;
        samples.push({ ok, ms: took });
        await sleep(Math.max(0, HONEST_EVERY_MS - took));
      }
      return samples;
    };

    it('keeps the honest client at ≥ 99% success and its p90 within a small multiple of the unloaded p90', async () => {
      const before = await runHonest(UNLOADED_MS);
      const flood = spawn(process.execPath, [
        flooder,
        base.split(':').at(-1)!,
        path.join(dir, 'ca.pem'),
        String(FLOOD.connections),
        String(FLOOD.rate),
        String(FLOOD.ms),
      ]);
      let floodOutput = '';
      flood.stdout.on('data', (chunk: Buffer) => (floodOutput += chunk.toString()));
      const floodDone = new Promise((resolve) => flood.once('exit', resolve));
      await sleep(1500); // the flood's connections are open and it is at full rate
      const loaded = await runHonest(LOADED_MS);
      await floodDone;
      // The quiet reference is taken on both sides of the flood: a machine whose other work comes
      // and goes moves it, and the flood should not be blamed for that.
      const unloaded = [...before, ...(await runHonest(UNLOADED_MS))];
      const floodStats = JSON.parse(floodOutput) as {
        offered: number;
        sent: number;
        responded: number;
        statuses: Record<string, number>;
      };

      const at = (samples: Sample[], p: number): number =>
        percentile(
          samples.map((s) => s.ms),
          p,
        );
      const success = loaded.filter((s) => s.ok).length / loaded.length;
      const [quiet50, busy50, quiet90, busy90, quiet99, busy99] = [
        at(unloaded, 0.5),
        at(loaded, 0.5),
        at(unloaded, 0.9),
        at(loaded, 0.9),
        at(unloaded, 0.99),
        at(loaded, 0.99),
      ];
      process.stdout.write(
        `fairness: honest client ${loaded.length} requests under flood, success ${(success * 100).toFixed(1)}%; ` +
          `p50 ${busy50.toFixed(1)} ms loaded vs ${quiet50.toFixed(1)} unloaded; ` +
          `p90 ${busy90.toFixed(1)} ms loaded vs ${quiet90.toFixed(1)} unloaded; ` +
          `p99 ${busy99.toFixed(1)} ms loaded vs ${quiet99.toFixed(1)} unloaded (${(busy99 / quiet99).toFixed(1)}×); ` +
          `flood offered ${Math.round(floodStats.offered / (FLOOD.ms / 1000))}/s on ${FLOOD.connections} connections, ` +
          `sent ${floodStats.sent}, answered ${JSON.stringify(floodStats.statuses)}\n`,
      );
      expect(floodStats.statuses['429']).toBeGreaterThan(0); // the flood was refused, not served
      expect(floodStats.statuses['200'] ?? 0).toBeLessThanOrEqual(100 * (FLOOD.ms / 1000) + 100);
      expect(success).toBeGreaterThanOrEqual(0.99);
      // A small multiple; the absolute slack absorbs a machine that is busy with other work too.
      expect(busy50).toBeLessThanOrEqual(3 * quiet50 + 2);
      // p90, not p99: of ~200 requests the p99 is the second slowest, which one pause of a shared
      // 2-core machine decides (a CI run saw 269 ms against 22). The p90 has an absolute slack of
      // 100 ms: a CI run on a starved machine (the flood itself sent 1,157 requests where it sends
      // about 1,600, the honest client made 104 where it makes 250) saw 79 ms against 9.9 quiet,
      // with every honest request answered. A client queued behind the flood waits for seconds.
      // Latency under load is measured by bench/limiter.mjs --loaded.
      expect(busy90).toBeLessThanOrEqual(Math.max(5 * quiet90, quiet90 + 100));
    }, 30_000);
  },
);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function waitUntilServing(agent: Agent, base: string, path = '/items/hammer/ready'): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    const ok = await fetchResponse(agent, `${base}${path}`, {}).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`gateway at ${base} did not start`);
}
