import type { BanKind } from './bans.js';
import type { DetectorConfig, DetectorsConfig } from '../config/types.js';
import type { JourneyRecord } from './journey.js';
import { CountWindows, DistinctWindows } from './windows.js';

/** The detectors, by the name events, metrics and alerts give them. */
export const DETECTORS = [
  'failed-logins-per-address',
  'failed-logins-per-username',
  'credential-stuffing',
  'enumeration',
  'key-many-addresses',
  'plaintext-credential',
  'upstream-errors',
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** On a login-marked operation: whether it failed (the upstream said so, or the login limits refused it). */
export type LoginOutcome = 'failure' | 'success' | null;

export interface Detection {
  readonly detector: DetectorName;
  /** What the detector counted against: "address", "username", "consumer", "key" or "api". */
  readonly subjectKind: string;
  readonly subject: string;
  /** Events (or distinct values, or the error percentage) that made it fire. */
  readonly count: number;
  readonly threshold: number;
  readonly windowMs: number;
  readonly shadow: boolean;
  /** What a ban would refuse; null when this detector bans nothing. */
  readonly ban: { readonly kind: BanKind; readonly value: string; readonly durationMs: number } | null;
  readonly alert: boolean;
  /** The request that tipped it over, when there was one. */
  readonly requestId: string | null;
  readonly address: string | null;
  readonly consumer: string | null;
}

/**
 * A 53-bit FNV-1a digest of a probed path: what the enumeration detector keeps per distinct id,
 * instead of the path itself (up to the request-target limit long).
 */
export function digestOf(path: string): string {
  let low = 0x811c9dc5;
  let high = 0x050c5d1f;
  for (let i = 0; i < path.length; i += 1) {
    const c = path.charCodeAt(i);
    low = Math.imul(low ^ c, 0x01000193) >>> 0;
    high = Math.imul(high ^ c, 0x0100019b) >>> 0;
  }
  return ((high & 0x1fffff) * 0x100000000 + low).toString(36);
}

const UPSTREAM_FAILURE_CODES: ReadonlySet<string> = new Set([
  'GH_UPSTREAM_UNREACHABLE',
  'GH_UPSTREAM_TIMEOUT',
  'GH_UPSTREAM_BAD_RESPONSE',
  'GH_UPSTREAM_CONTRACT_VIOLATION',
]);

/** Who sent a request for an object answered 403/404: the journey's fields the enumeration detector counts by. */
export type ProbeCaller = Pick<
  JourneyRecord,
  'clientAddress' | 'credentialId' | 'credentialKind' | 'subject' | 'consumer'
>;

/**
 * What the detectors count, one call per thing seen: what `Detectors` takes in the process that
 * runs them, and what a worker of `gatehouse start --workers` sends the lead to count for it
 * (src/observe/detector-signals.ts), so that a caller spread over every worker is counted once.
 * `at` is when the request started.
 */
export interface DetectorSignals {
  failedLogin(address: string, username: string | null, requestId: string, at: number): void;
  /** `digest`: the probed path's, as `digestOf` makes it. */
  probe(caller: ProbeCaller, digest: string, requestId: string, at: number): void;
  keyUse(keyId: string, address: string, consumer: string | null, requestId: string, at: number): void;
  /**
   * A run of `total` requests in a row the api's upstream was asked for, all failed there
   * (`failed` = `total`) or none (`failed` = 0); `requestId` is the last of them.
   */
  upstreamOutcomes(api: string, total: number, failed: number, requestId: string, at: number): void;
  /** A credential arrived on the plaintext port (a known key, or null for another credential). */
  plaintextCredential(address: string, keyId: string | null, requestId: string, at: number): void;
}

/**
 * Hands one finished request to `signals`, as what the detectors count: a failed login, a probe
 * for an object (`probedPath`: the raw path of a request answered 403/404 or refused by a claim
 * condition), the use of a key, an upstream's outcome. `username`: what a login named (folded,
 * bounded), or null.
 */
export function signalRequest(
  signals: DetectorSignals,
  journey: JourneyRecord,
  login: LoginOutcome,
  username: string | null,
  probedPath: string | null,
): void {
  const { requestId, startedAt } = journey;
  if (login === 'failure') signals.failedLogin(journey.clientAddress, username, requestId, startedAt);
  if (probedPath !== null) signals.probe(journey, digestOf(probedPath), requestId, startedAt);
  if (journey.credentialKind === 'api-key' && journey.credentialId !== null)
    signals.keyUse(journey.credentialId, journey.clientAddress, journey.consumer, requestId, startedAt);
  if (journey.api !== null && journey.decidedBy !== null) {
    const failed = journey.code !== null && UPSTREAM_FAILURE_CODES.has(journey.code);
    if (journey.upstreamMs !== null || failed)
      signals.upstreamOutcomes(journey.api, 1, failed ? 1 : 0, requestId, startedAt);
  }
}

/**
 * Watches finished requests for the patterns of an attack in progress and reports each once per
 * subject and window: failed-login floods per address and per username, credential stuffing
 * (many usernames from one address), identifier enumeration (one caller, many distinct ids
 * answered 403/404), one key used from many addresses, a credential sent in plaintext, and an
 * upstream's error rate jumping. Counting is in memory and bounded (`maxTracked` subjects each).
 */
export class Detectors implements DetectorSignals {
  readonly #config: DetectorsConfig;
  readonly #report: (detection: Detection) => void;
  readonly #loginsByAddress: CountWindows;
  readonly #loginsByUsername: CountWindows;
  readonly #usernamesByAddress: DistinctWindows;
  readonly #idsByCaller: DistinctWindows;
  readonly #addressesByKey: DistinctWindows;
  readonly #exposures: CountWindows;
  readonly #upstreams = new Map<string, { start: number; total: number; failed: number; fired: boolean }>();

  constructor(config: DetectorsConfig, report: (detection: Detection) => void) {
    this.#config = config;
    this.#report = report;
    const max = config.maxTracked;
    this.#loginsByAddress = new CountWindows(config.failedLoginsPerAddress.windowMs, max);
    this.#loginsByUsername = new CountWindows(config.failedLoginsPerUsername.windowMs, max);
    this.#usernamesByAddress = new DistinctWindows(config.credentialStuffing.windowMs, max);
    this.#idsByCaller = new DistinctWindows(config.enumeration.windowMs, max);
    this.#addressesByKey = new DistinctWindows(config.keyManyAddresses.windowMs, max);
    this.#exposures = new CountWindows(config.plaintextCredential.windowMs, max);
  }

  /**
   * A credential arrived on the plaintext port: it travelled in the clear, so it is exposed. Fires
   * once per key (or, for a credential that is not a known key, per address) and window.
   */
  plaintextCredential(address: string, keyId: string | null, requestId: string, at: number): void {
    const config = this.#config.plaintextCredential;
    if (!config.enabled) return;
    const subject = keyId === null ? `address:${address}` : `key:${keyId}`;
    if (this.#exposures.add(subject, 1, at) === 0) return;
    this.#fire('plaintext-credential', config, keyId === null ? 'address' : 'key', keyId ?? address, 1, {
      ban: keyId === null ? null : { kind: 'key', value: keyId },
      requestId,
      address,
      consumer: null,
    });
  }

  failedLogin(address: string, username: string | null, requestId: string, at: number): void {
    const context = { requestId, address, consumer: null };
    const perAddress = this.#config.failedLoginsPerAddress;
    if (perAddress.enabled) {
      const count = this.#loginsByAddress.add(address, perAddress.threshold, at);
      if (count > 0)
        this.#fire('failed-logins-per-address', perAddress, 'address', address, count, {
          ban: { kind: 'address', value: address },
          ...context,
        });
    }
    if (username === null) return;
    const perUsername = this.#config.failedLoginsPerUsername;
    if (perUsername.enabled) {
      const count = this.#loginsByUsername.add(username, perUsername.threshold, at);
      // Many addresses failing one username: banning any of them would not protect the account.
      if (count > 0)
        this.#fire('failed-logins-per-username', perUsername, 'username', username, count, {
          ban: null,
          ...context,
        });
    }
    const stuffing = this.#config.credentialStuffing;
    if (stuffing.enabled) {
      const count = this.#usernamesByAddress.add(address, username, stuffing.threshold, at);
      if (count > 0)
        this.#fire('credential-stuffing', stuffing, 'address', address, count, {
          ban: { kind: 'address', value: address },
          ...context,
        });
    }
  }

  /**
   * Counted per caller: the credential's subject (an end user of an OAuth client is not the whole
   * client), else the address. A ban refuses that caller's credential (key or token id), never
   * everyone who shares its consumer.
   */
  probe(caller: ProbeCaller, digest: string, requestId: string, at: number): void {
    const config = this.#config.enumeration;
    if (!config.enabled) return;
    const credential = caller.credentialId;
    const subject =
      credential === null
        ? `address:${caller.clientAddress}`
        : `subject:${caller.credentialKind}:${caller.subject}`;
    const count = this.#idsByCaller.add(subject, digest, config.threshold, at);
    if (count === 0) return;
    const ban =
      credential === null
        ? { kind: 'address' as const, value: caller.clientAddress }
        : { kind: 'key' as const, value: credential };
    this.#fire(
      'enumeration',
      config,
      credential === null ? 'address' : 'subject',
      credential === null ? caller.clientAddress : caller.subject!,
      count,
      { ban, requestId, address: caller.clientAddress, consumer: caller.consumer },
    );
  }

  keyUse(keyId: string, address: string, consumer: string | null, requestId: string, at: number): void {
    const config = this.#config.keyManyAddresses;
    if (!config.enabled) return;
    const count = this.#addressesByKey.add(keyId, address, config.threshold, at);
    if (count === 0) return;
    this.#fire('key-many-addresses', config, 'key', keyId, count, {
      ban: { kind: 'key', value: keyId },
      requestId,
      address,
      consumer,
    });
  }

  /**
   * A run of `total` requests the api's upstream was asked for, in a row, that all failed there
   * (`failed` = `total`: 5xx, unreachable, timeout, contract) or all did not (`failed` = 0). The
   * error rate is checked request by request, as if each had come alone: once the window has
   * `upstreamErrorsMinRequests`, the first request at which it reaches the threshold fires.
   */
  upstreamOutcomes(api: string, total: number, failed: number, requestId: string, at: number): void {
    const config = this.#config.upstreamErrors;
    if (!config.enabled) return;
    let entry = this.#upstreams.get(api);
    if (entry === undefined)
      this.#upstreams.set(api, (entry = { start: at, total: 0, failed: 0, fired: false }));
    else if (at - entry.start >= config.windowMs) {
      entry.start = at;
      entry.total = 0;
      entry.failed = 0;
      entry.fired = false;
    }
    const before = entry.total;
    const failedBefore = entry.failed;
    entry.total += total;
    entry.failed += failed;
    if (entry.fired) return;
    for (let n = Math.max(before + 1, this.#config.upstreamErrorsMinRequests); n <= entry.total; n += 1) {
      const failedThen = failed === 0 ? failedBefore : failedBefore + Math.min(failed, n - before);
      const percent = Math.round((failedThen * 100) / n);
      if (percent >= config.threshold) {
        entry.fired = true;
        this.#fire('upstream-errors', config, 'api', api, percent, {
          ban: null,
          requestId,
          address: null,
          consumer: null,
        });
        return;
      }
      // A run of successes only lowers the rate: its first request was the one to check.
      if (failed === 0) return;
    }
  }

  #fire(
    detector: DetectorName,
    config: DetectorConfig,
    subjectKind: string,
    subject: string,
    count: number,
    extra: {
      ban: { kind: BanKind; value: string } | null;
      requestId: string | null;
      address: string | null;
      consumer: string | null;
    },
  ): void {
    const bans = config.actions.includes('ban') && extra.ban !== null;
    this.#report({
      detector,
      subjectKind,
      subject,
      count,
      threshold: config.threshold,
      windowMs: config.windowMs,
      shadow: config.shadow,
      ban: bans ? { ...extra.ban!, durationMs: config.banMs } : null,
      alert: config.actions.includes('alert'),
      requestId: extra.requestId,
      address: extra.address,
      consumer: extra.consumer,
    });
  }
}
