import { describe, expect, it } from 'vitest';
import type { DetectorsConfig } from '../config/types.js';
import { replaySignals, SignalQueue, type SignalBatch } from './detector-signals.js';
import { Detectors, signalRequest, type Detection } from './detectors.js';
import { newJourney, type JourneyRecord } from './journey.js';
import { detectorOn, detectorsConfig } from './testing.js';

/** Thresholds of 4 (3 distinct addresses for a key); upstream errors after 10 requests. */
const config = (overrides: Partial<DetectorsConfig> = {}): DetectorsConfig =>
  detectorsConfig({
    failedLoginsPerAddress: detectorOn(4, ['ban']),
    failedLoginsPerUsername: detectorOn(100, ['alert']),
    credentialStuffing: detectorOn(100, ['ban']),
    enumeration: detectorOn(4, ['ban']),
    upstreamErrorsMinRequests: 10,
    ...overrides,
  });

let clock = 2_000_000;
function journey(fields: Partial<JourneyRecord>): JourneyRecord {
  clock += 1;
  return { ...newJourney(`req-${clock}`, 'GET', '10.0.0.1'), startedAt: clock, ...fields };
}

/** A batch as the lead receives it: through the IPC channel's JSON. */
const carried = (batch: SignalBatch | null): SignalBatch => JSON.parse(JSON.stringify(batch)) as SignalBatch;

/** The lead's detectors and what they fired. */
function lead(cfg: DetectorsConfig): { detectors: Detectors; fired: Detection[] } {
  const fired: Detection[] = [];
  return { detectors: new Detectors(cfg, (d) => fired.push(d)), fired };
}

describe('SignalQueue: what a worker sends the lead detectors', () => {
  it('lets the lead count a caller spread over two workers once, as one process would', () => {
    const cfg = config();
    const workers = [new SignalQueue(() => undefined), new SignalQueue(() => undefined)];
    // Alone, each worker's detectors would see two failed logins and two probes: under the 4.
    const alone = [lead(cfg), lead(cfg)];
    const key = { credentialKind: 'api-key', credentialId: 'key-1', subject: 'key-1', consumer: 'mallory' };
    for (let i = 0; i < 4; i += 1) {
      const login = journey({ clientAddress: '10.9.9.9', api: 'bank', route: '/login', status: 401 });
      const probe = journey({ api: 'bank', route: '/accounts/{id}', status: 404, ...key });
      for (const target of [workers[i % 2]!, alone[i % 2]!.detectors]) {
        signalRequest(target, login, 'failure', 'alice', null);
        signalRequest(target, probe, null, null, `/accounts/${i}`);
      }
    }
    expect(alone.flatMap((one) => one.fired)).toEqual([]);
    const { detectors, fired } = lead(cfg);
    for (const worker of workers) replaySignals(carried(worker.take()), detectors);
    expect(fired.map((d) => [d.detector, d.subject, d.count, d.ban?.kind, d.ban?.value])).toEqual([
      ['failed-logins-per-address', '10.9.9.9', 4, 'address', '10.9.9.9'],
      ['enumeration', 'key-1', 4, 'key', 'key-1'],
    ]);
    expect(fired[1]!.consumer).toBe('mallory');
  });

  it('sends a key used from one address once per batch, and each address it is used from', () => {
    const queue = new SignalQueue(() => undefined);
    const key = { credentialKind: 'api-key', credentialId: 'key-2', consumer: 'bob' };
    for (let i = 0; i < 1000; i += 1) signalRequest(queue, journey(key), null, null, null);
    for (const address of ['10.1.0.1', '10.1.0.2'])
      signalRequest(queue, journey({ ...key, clientAddress: address }), null, null, null);
    const batch = carried(queue.take());
    expect(batch.keyUses.map((use) => use.address)).toEqual(['10.0.0.1', '10.1.0.1', '10.1.0.2']);
    const { detectors, fired } = lead(config());
    replaySignals(batch, detectors);
    expect(fired.map((d) => [d.detector, d.subject, d.count])).toEqual([['key-many-addresses', 'key-2', 3]]);
    expect(queue.take()).toBeNull();
  });

  it("folds an upstream's outcomes into runs, and the lead finds the request one process fired at", () => {
    const queue = new SignalQueue(() => undefined);
    const outcome = (failed: boolean): JourneyRecord =>
      journey({
        api: 'bank',
        decidedBy: 'upstream',
        upstreamMs: failed ? null : 3,
        code: failed ? 'GH_UPSTREAM_UNREACHABLE' : null,
      });
    // Six failures, then ten successes: one process fires at the 10th request (6 of 10 failed).
    const requests = [
      ...Array.from({ length: 6 }, () => outcome(true)),
      ...Array.from({ length: 10 }, () => outcome(false)),
    ];
    const one = lead(config());
    for (const j of requests) {
      signalRequest(queue, j, null, null, null);
      signalRequest(one.detectors, j, null, null, null);
    }
    const batch = carried(queue.take());
    expect(batch.upstreams.map((run) => [run.total, run.failed])).toEqual([
      [6, 6],
      [10, 0],
    ]);
    const { detectors, fired } = lead(config());
    replaySignals(batch, detectors);
    expect(fired.map((d) => [d.detector, d.subject, d.count])).toEqual([['upstream-errors', 'bank', 60]]);
    expect(one.fired.map((d) => [d.detector, d.subject, d.count])).toEqual([['upstream-errors', 'bank', 60]]);
  });

  it("sends every signal whatever this worker's detectors, and wakes its sender once a batch", () => {
    let wakes = 0;
    const queue = new SignalQueue(() => (wakes += 1));
    expect([queue.take(), queue.pending, wakes]).toEqual([null, false, 0]);
    for (let i = 0; i < 3; i += 1) queue.failedLogin('10.0.0.2', 'alice', `r${i}`, clock + i);
    queue.plaintextCredential('10.0.0.2', null, 'r3', clock);
    expect([queue.pending, wakes]).toEqual([true, 1]);
    // Three failures of one address and username travel as one entry, the last request named.
    expect(carried(queue.take()).failedLogins).toEqual([
      { address: '10.0.0.2', username: 'alice', count: 3, requestId: 'r2', at: clock + 2 },
    ]);
    queue.plaintextCredential('10.0.0.2', null, 'r', clock);
    expect(wakes).toBe(2);
  });

  it('makes the lead fire exactly what one process fed the same requests fires', () => {
    const replay = (batch: SignalBatch | null, into: Detectors): void => {
      if (batch !== null) replaySignals(carried(batch), into);
    };
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let trial = 0; trial < 20; trial += 1) {
      const cfg = config({
        failedLoginsPerAddress: detectorOn(2 + random(6), ['ban']),
        failedLoginsPerUsername: detectorOn(2 + random(6), ['alert']),
        credentialStuffing: detectorOn(2 + random(4), ['ban']),
        enumeration: detectorOn(2 + random(6), ['ban']),
        keyManyAddresses: detectorOn(2 + random(3), ['ban']),
        upstreamErrors: detectorOn(20 + random(70), ['alert']),
        upstreamErrorsMinRequests: 1 + random(20),
      });
      const one = lead(cfg);
      const whole = lead(cfg);
      // One worker keeps the order of every kind; over two, an upstream's outcomes interleave as
      // the batches arrive (no one order is the true one), so the error rate is left out there.
      const count = 1 + (trial % 2);
      const workers = Array.from({ length: count }, () => new SignalQueue(() => undefined));
      for (let i = 0; i < 400; i += 1) {
        const address = `10.0.0.${random(3)}`;
        const failed = random(3) === 0;
        const j = journey({
          clientAddress: address,
          api: 'bank',
          decidedBy: 'upstream',
          credentialKind: 'api-key',
          credentialId: `key-${random(2)}`,
          subject: `key-${random(2)}`,
          upstreamMs: failed ? null : 2,
          code: failed ? 'GH_UPSTREAM_UNREACHABLE' : null,
        });
        const login = random(4) === 0 ? 'failure' : null;
        const username = `user-${random(4)}`;
        const probed = random(5) === 0 ? `/accounts/${random(12)}` : null;
        signalRequest(one.detectors, j, login, username, probed);
        signalRequest(workers[random(count)]!, j, login, username, probed);
        // The batches go at random moments, as a 20 ms timer meets a stream of requests.
        if (random(25) === 0) replay(workers[random(count)]!.take(), whole.detectors);
      }
      for (const worker of workers) replay(worker.take(), whole.detectors);
      const fired = (detections: Detection[]): string[] =>
        detections
          .filter((d) => count === 1 || d.detector !== 'upstream-errors')
          .map((d) => `${d.detector} ${d.subject} ${d.count}`)
          .sort();
      expect(fired(one.fired).length).toBeGreaterThan(2);
      expect(fired(whole.fired)).toEqual(fired(one.fired));
    }
  });

  it('drops and counts what does not fit, and starts empty after each batch', () => {
    const queue = new SignalQueue(() => undefined, 5);
    for (let i = 0; i < 7; i += 1) queue.failedLogin('10.0.0.3', `u${i}`, `r${i}`, clock);
    const batch = queue.take()!;
    expect([batch.failedLogins.length, batch.dropped]).toEqual([5, 2]);
    queue.failedLogin('10.0.0.3', 'u', 'r', clock);
    expect([queue.take()!.failedLogins.length, queue.take()]).toEqual([1, null]);
  });
});
