import type { DetectorSignals, ProbeCaller } from './detectors.js';

/** What one worker's detector signals come to between two sends: plain data, to travel by IPC. */
export interface SignalBatch {
  /** One per address and username: `count` failures, the last of them `requestId`. */
  readonly failedLogins: readonly {
    address: string;
    username: string | null;
    count: number;
    requestId: string;
    at: number;
  }[];
  readonly probes: readonly { caller: ProbeCaller; digest: string; requestId: string; at: number }[];
  /** One per key and address: the detector counts distinct addresses, so a repeat adds nothing. */
  readonly keyUses: readonly {
    keyId: string;
    address: string;
    consumer: string | null;
    requestId: string;
    at: number;
  }[];
  /**
   * An api's upstream outcomes in runs, in the order they came: `total` requests in a row that
   * all failed (`failed` = `total`) or all did not (`failed` = 0), the last of them `requestId`.
   */
  readonly upstreams: readonly {
    api: string;
    total: number;
    failed: number;
    requestId: string;
    at: number;
  }[];
  readonly exposures: readonly { address: string; keyId: string | null; requestId: string; at: number }[];
  /** Entries left out since the last batch, the queue being full. */
  readonly dropped: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };
type FailedLogins = Mutable<SignalBatch['failedLogins'][number]>;
type UpstreamRun = Mutable<SignalBatch['upstreams'][number]>;

/**
 * A worker's detector signals, gathered for the lead, which runs the detectors of the whole
 * gateway: a caller whose requests spread over every worker meets the thresholds once, as one
 * process would count it. Every signal is kept, whichever detectors this worker's configuration
 * enables: the lead's decide. Repeats are folded: failed logins per address and username, key
 * uses per key and address, upstream outcomes into runs per api, so a busy worker sends a few
 * entries per batch, not one per request. Past `max` entries waiting, the rest are dropped and
 * counted. `wake` is called when the first entry arrives in an empty queue: the caller sends
 * `take()` soon after.
 */
export class SignalQueue implements DetectorSignals {
  readonly #wake: () => void;
  readonly #max: number;
  #batch: Mutable<SignalBatch> = emptyBatch();
  #size = 0;
  readonly #failedLogins = new Map<string, Map<string | null, FailedLogins>>();
  readonly #keyUses = new Map<string, Map<string, SignalBatch['keyUses'][number]>>();
  /** Each api's current run. */
  readonly #upstreams = new Map<string, UpstreamRun>();

  constructor(wake: () => void, max = 20_000) {
    this.#wake = wake;
    this.#max = max;
  }

  /** Whether anything waits to be taken (entries, or a count of dropped ones). */
  get pending(): boolean {
    return this.#size > 0 || this.#batch.dropped > 0;
  }

  failedLogin(address: string, username: string | null, requestId: string, at: number): void {
    let byUsername = this.#failedLogins.get(address);
    const known = byUsername?.get(username);
    if (known !== undefined) {
      known.count += 1;
      known.requestId = requestId;
      known.at = at;
      return;
    }
    if (!this.#room()) return;
    if (byUsername === undefined) this.#failedLogins.set(address, (byUsername = new Map()));
    const added = { address, username, count: 1, requestId, at };
    byUsername.set(username, added);
    this.#batch.failedLogins.push(added);
  }

  probe(caller: ProbeCaller, digest: string, requestId: string, at: number): void {
    if (!this.#room()) return;
    const { clientAddress, credentialId, credentialKind, subject, consumer } = caller;
    this.#batch.probes.push({
      caller: { clientAddress, credentialId, credentialKind, subject, consumer },
      digest,
      requestId,
      at,
    });
  }

  keyUse(keyId: string, address: string, consumer: string | null, requestId: string, at: number): void {
    let byAddress = this.#keyUses.get(keyId);
    if (byAddress?.has(address) === true || !this.#room()) return;
    if (byAddress === undefined) this.#keyUses.set(keyId, (byAddress = new Map()));
    const use = { keyId, address, consumer, requestId, at };
    byAddress.set(address, use);
    this.#batch.keyUses.push(use);
  }

  upstreamOutcomes(api: string, total: number, failed: number, requestId: string, at: number): void {
    const run = this.#upstreams.get(api);
    if (run !== undefined && (run.failed === 0) === (failed === 0) && (failed === 0 || failed === total)) {
      run.total += total;
      run.failed += failed;
      run.requestId = requestId;
      run.at = at;
      return;
    }
    if (!this.#room()) return;
    const added = { api, total, failed, requestId, at };
    this.#upstreams.set(api, added);
    this.#batch.upstreams.push(added);
  }

  plaintextCredential(address: string, keyId: string | null, requestId: string, at: number): void {
    if (this.#room()) this.#batch.exposures.push({ address, keyId, requestId, at });
  }

  /** The signals gathered since the last call, and how many were dropped; null when there are none. */
  take(): SignalBatch | null {
    if (!this.pending) return null;
    const batch = this.#batch;
    this.#batch = emptyBatch();
    this.#size = 0;
    this.#failedLogins.clear();
    this.#keyUses.clear();
    this.#upstreams.clear();
    return batch;
  }

  /** Whether one more entry fits (else it counts as dropped); wakes the sender on the first. */
  #room(): boolean {
    if (this.#size >= this.#max) {
      this.#batch.dropped += 1;
      return false;
    }
    if (this.#size === 0) this.#wake();
    this.#size += 1;
    return true;
  }
}

function emptyBatch(): Mutable<SignalBatch> {
  return { failedLogins: [], probes: [], keyUses: [], upstreams: [], exposures: [], dropped: 0 };
}

/** Gives a batch from another worker to the detectors, in the order each kind was seen. */
export function replaySignals(batch: SignalBatch, into: DetectorSignals): void {
  for (const s of batch.failedLogins)
    for (let i = 0; i < s.count; i += 1) into.failedLogin(s.address, s.username, s.requestId, s.at);
  for (const s of batch.probes) into.probe(s.caller, s.digest, s.requestId, s.at);
  for (const s of batch.keyUses) into.keyUse(s.keyId, s.address, s.consumer, s.requestId, s.at);
  for (const s of batch.upstreams) into.upstreamOutcomes(s.api, s.total, s.failed, s.requestId, s.at);
  for (const s of batch.exposures) into.plaintextCredential(s.address, s.keyId, s.requestId, s.at);
}
