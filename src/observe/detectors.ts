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
function digestOf(path: string): string {
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

/**
 * Watches finished requests for the patterns of an attack in progress and reports each once per
 * subject and window: failed-login floods per address and per username, credential stuffing
 * (many usernames from one address), identifier enumeration (one caller, many distinct ids
 * answered 403/404), one key used from many addresses, a credential sent in plaintext, and an
 * upstream's error rate jumping. Counting is in memory and bounded (`maxTracked` subjects each).
 */
export class Detectors {
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
   * One finished request. `username`: what a login named (folded, bounded), or null; `probedPath`:
   * the raw path of a request for an object answered 403/404 or refused by a claim condition.
   */
  observe(
    journey: JourneyRecord,
    login: LoginOutcome,
    username: string | null,
    probedPath: string | null,
  ): void {
    if (login === 'failure') this.#failedLogin(journey, username);
    if (probedPath !== null) this.#probe(journey, probedPath);
    if (journey.credentialKind === 'api-key') this.#keyUse(journey);
    if (journey.api !== null && journey.decidedBy !== null) this.#upstreamOutcome(journey);
  }

  /**
   * A credential arrived on the plaintext port: it travelled in the clear, so it is exposed. Fires
   * once per key (or, for a credential that is not a known key, per address) and window.
   */
  plaintextCredential(address: string, keyId: string | null, requestId: string, now: number): void {
    const config = this.#config.plaintextCredential;
    if (!config.enabled) return;
    const subject = keyId === null ? `address:${address}` : `key:${keyId}`;
    if (this.#exposures.add(subject, 1, now) === 0) return;
    this.#fire('plaintext-credential', config, keyId === null ? 'address' : 'key', keyId ?? address, 1, {
      ban: keyId === null ? null : { kind: 'key', value: keyId },
      requestId,
      address,
      consumer: null,
    });
  }

  #failedLogin(journey: JourneyRecord, username: string | null): void {
    const address = journey.clientAddress;
    const now = journey.startedAt;
    const context = { requestId: journey.requestId, address, consumer: null };
    const perAddress = this.#config.failedLoginsPerAddress;
    if (perAddress.enabled) {
      const count = this.#loginsByAddress.add(address, perAddress.threshold, now);
      if (count > 0)
        this.#fire('failed-logins-per-address', perAddress, 'address', address, count, {
          ban: { kind: 'address', value: address },
          ...context,
        });
    }
    if (username === null) return;
    const perUsername = this.#config.failedLoginsPerUsername;
    if (perUsername.enabled) {
      const count = this.#loginsByUsername.add(username, perUsername.threshold, now);
      // Many addresses failing one username: banning any of them would not protect the account.
      if (count > 0)
        this.#fire('failed-logins-per-username', perUsername, 'username', username, count, {
          ban: null,
          ...context,
        });
    }
    const stuffing = this.#config.credentialStuffing;
    if (stuffing.enabled) {
      const count = this.#usernamesByAddress.add(address, username, stuffing.threshold, now);
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
  #probe(journey: JourneyRecord, path: string): void {
    const config = this.#config.enumeration;
    if (!config.enabled) return;
    const credential = journey.credentialId;
    const subject =
      credential === null
        ? `address:${journey.clientAddress}`
        : `subject:${journey.credentialKind}:${journey.subject}`;
    const count = this.#idsByCaller.add(subject, digestOf(path), config.threshold, journey.startedAt);
    if (count === 0) return;
    const ban =
      credential === null
        ? { kind: 'address' as const, value: journey.clientAddress }
        : { kind: 'key' as const, value: credential };
    this.#fire(
      'enumeration',
      config,
      credential === null ? 'address' : 'subject',
      credential === null ? journey.clientAddress : journey.subject!,
      count,
      {
        ban,
        requestId: journey.requestId,
        address: journey.clientAddress,
        consumer: journey.consumer,
      },
    );
  }

  #keyUse(journey: JourneyRecord): void {
    const config = this.#config.keyManyAddresses;
    const keyId = journey.credentialId;
    if (!config.enabled || keyId === null) return;
    const count = this.#addressesByKey.add(keyId, journey.clientAddress, config.threshold, journey.startedAt);
    if (count === 0) return;
    this.#fire('key-many-addresses', config, 'key', keyId, count, {
      ban: { kind: 'key', value: keyId },
      requestId: journey.requestId,
      address: journey.clientAddress,
      consumer: journey.consumer,
    });
  }

  /** Requests the upstream was asked for, and how many of them failed there (5xx, unreachable, timeout, contract). */
  #upstreamOutcome(journey: JourneyRecord): void {
    const config = this.#config.upstreamErrors;
    const failed = journey.code !== null && UPSTREAM_FAILURE_CODES.has(journey.code);
    if (!config.enabled || (journey.upstreamMs === null && !failed)) return;
    const api = journey.api!;
    const now = journey.startedAt;
    let entry = this.#upstreams.get(api);
    if (entry === undefined)
      this.#upstreams.set(api, (entry = { start: now, total: 0, failed: 0, fired: false }));
    else if (now - entry.start >= config.windowMs) {
      entry.start = now;
      entry.total = 0;
      entry.failed = 0;
      entry.fired = false;
    }
    entry.total += 1;
    if (failed) entry.failed += 1;
    if (entry.fired || entry.total < this.#config.upstreamErrorsMinRequests) return;
    const percent = Math.round((entry.failed * 100) / entry.total);
    if (percent < config.threshold) return;
    entry.fired = true;
    this.#fire('upstream-errors', config, 'api', api, percent, {
      ban: null,
      requestId: journey.requestId,
      address: null,
      consumer: null,
    });
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
