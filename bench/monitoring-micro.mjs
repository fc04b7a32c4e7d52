#!/usr/bin/env node
// What the monitor adds to one request, from built code (run `npm run build` first): CPU ns of
// Monitor.request() (journey buffer, metrics, detectors, and the security event a refusal
// writes) against the same call with monitoring off (journey buffer only), for a served request
// with an API key (1000 keys, 1000 client addresses, 20 operations) and for a refused one (401:
// one event, written to /dev/null). Best of --rounds, each over --iterations calls.
// Usage: node bench/monitoring-micro.mjs [--iterations 2000000] [--rounds 5]
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    iterations: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '5' },
  },
});
const iterations = Number(opt.iterations);
const rounds = Number(opt.rounds);

const load = async (module) => {
  try {
    return await import(new URL(`../dist/${module}.js`, import.meta.url).href);
  } catch (err) {
    console.error(`cannot load dist/${module}.js (run \`npm run build\` first): ${err.message}`);
    process.exit(1);
  }
};
const { Monitor } = await load('observe/monitor');
const { newJourney } = await load('observe/journey');
const { createJsonLineStream, createLogger } = await load('observe/logger');
const { BanList } = await load('observe/bans');
const { configDefaults } = await load('config/defaults');
const { buildMonitoringConfig } = await load('config/monitoring-build');

const detector = (d) => ({
  enabled: true,
  shadow: false,
  threshold: d.threshold,
  window: d.window,
  actions: [],
  banFor: d.banFor,
});
const d = configDefaults.monitoring.detectors;
const entry = (enabled) => ({
  enabled,
  events: { destination: '/dev/null', bufferSize: 10_000 },
  probeInterval: '5s',
  detectors: {
    ...Object.fromEntries(Object.entries(d).map(([name, value]) => [name, detector(value)])),
    upstreamErrors: { ...detector(d.upstreamErrors), minRequests: 20 },
    maxTracked: 10_000,
  },
});
const secrets = { scrapeToken: null, alertSecret: null, alertCa: null };
const ctx = { baseDir: process.cwd(), env: {} };

function monitor(enabled) {
  const config = buildMonitoringConfig(entry(enabled), '/tmp', ctx, secrets);
  const quiet = { level: 'info', access: false, destination: '/dev/null' };
  return new Monitor({
    config,
    journeyBufferSize: 1000,
    bans: new BanList(),
    eventLog: createJsonLineStream('/dev/null'),
    logger: createLogger(quiet),
    upstreams: () => [],
  });
}

const operations = Array.from({ length: 20 }, (_, i) => ({ template: `/op${i}/{id}` }));
function outcomes(refused) {
  return Array.from({ length: 1000 }, (_, i) => {
    const j = newJourney(`req-${i}`, 'GET', `10.0.${i >> 8}.${i & 255}`);
    j.api = 'bench';
    j.route = operations[i % 20].template;
    j.passed = Object.freeze(['transport', 'route']);
    j.durationMs = 0.4 + (i % 7) / 10;
    if (refused) {
      j.status = 401;
      j.decidedBy = 'authenticate';
      j.code = 'GH_AUTH_UNAUTHENTICATED';
      j.reason = 'api-key.unknown';
    } else {
      j.status = 200;
      j.decidedBy = 'respond';
      j.upstreamMs = 0.2;
      j.consumer = `app-${i}`;
      j.subject = `app-${i}`;
      j.credentialKind = 'api-key';
      j.credentialId = (i * 7919).toString(16).padStart(16, '0');
      j.bytesOut = 300;
    }
    return { operation: operations[i % 20], journey: j };
  });
}

for (const [label, refused, n] of [
  ['served, API key', false, iterations],
  ['refused 401 (one event each)', true, Math.min(iterations, 200_000)],
]) {
  const cases = outcomes(refused);
  const on = monitor(true);
  const off = monitor(false);
  /** Best ns per call over the rounds; the clock moves a second every ~1000 requests. */
  const run = (m) => {
    let best = Infinity;
    for (let round = 0; round < rounds; round += 1) {
      const start = performance.now();
      for (let i = 0; i < n; i += 1) {
        const c = cases[i % 1000];
        c.journey.startedAt = 1_000_000 + (i >> 10);
        m.request(c.operation, c.journey, null, null, null);
      }
      best = Math.min(best, ((performance.now() - start) * 1e6) / n);
    }
    return best;
  };
  run(on);
  run(off);
  const [nsOn, nsOff] = [run(on), run(off)];
  console.log(
    `${label}: monitoring on ${nsOn.toFixed(0)} ns, off ${nsOff.toFixed(0)} ns per request; ` +
      `monitoring adds ${(nsOn - nsOff).toFixed(0)} ns (best of ${rounds} × ${n.toLocaleString('en')})`,
  );
  await on.close();
  await off.close();
}
