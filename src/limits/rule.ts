import type {
  PreAuthLimitConfig,
  RateLimitPolicyConfig,
  SimpleRateConfig,
  StoreFailurePolicy,
} from '../config/types.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { parseDuration } from '../config/duration.js';

/**
 * What a store is asked to decide, compiled once from a policy:
 * - `rate`: GCRA (the generic cell rate algorithm, ITU-T I.371): a theoretical arrival time per
 *   key; smooth, so no fixed-window edge lets 2× the limit through;
 * - `quota`: a count per calendar period (UTC hour, day or month), what billing plans mean;
 * - `penalty`: a GCRA fed by failures (failed authentications) and only looked at by requests;
 * - `backoff`: consecutive failures (login) and a wait that doubles with each one past the free ones.
 */
export type RuleKind = 'rate' | 'quota' | 'penalty' | 'backoff';

export type QuotaPeriod = 'hour' | 'day' | 'month';

export interface BackoffSettings {
  readonly freeFailures: number;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly forgetMs: number;
}

export interface Rule {
  /** The policy name: the only thing about a policy a client is told. */
  readonly name: string;
  readonly kind: RuleKind;
  /** Distinguishes this rule's keys from every other's in a store. */
  readonly keyPrefix: string;
  /** rate, penalty: GCRA emission interval T (window / limit). */
  readonly intervalMs: number;
  /** rate, penalty: GCRA tolerance τ = (burst − 1)·T: burst requests pass at once. */
  readonly toleranceMs: number;
  /** rate in delay mode: the longest a request may wait for its turn; 0 = refuse at once. */
  readonly maxDelayMs: number;
  /** quota: requests per period. */
  readonly limit: number;
  readonly period: QuotaPeriod | null;
  readonly backoff: BackoffSettings | null;
  /** false in shadow mode: counted and logged, never refusing. */
  readonly enforced: boolean;
  readonly onStoreFailure: StoreFailurePolicy;
  /** The refusal's code: what the problem `type` says. */
  readonly refusal: ErrorCode;
  /** This rule's item of `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers §3), or null when it has none. */
  readonly policyHeader: string | null;
  /** The same rule at this process's share, for the in-memory fallback when the store fails. */
  readonly fallback: Rule | null;
}

const PERIOD_SECONDS: Readonly<Record<QuotaPeriod, number>> = { hour: 3600, day: 86_400, month: 2_592_000 };

/** Compiles a policy of `rateLimits.policies` or of `x-gatehouse-rate-limit`. */
export function compilePolicy(
  name: string,
  policy: RateLimitPolicyConfig,
  replicas: number,
  localShare = 1,
): Rule {
  if (policy.type === 'quota') return compileQuota(name, policy, replicas, localShare);
  if (policy.window === undefined) throw new TypeError(`rate policy "${name}" has no window`);
  const maxDelayMs = policy.mode === 'delay' ? parseDuration(policy.maxDelay ?? '1s') : 0;
  return gcraRule({
    name,
    kind: 'rate',
    keyPrefix: `rl:${name}:`,
    rate: {
      limit: policy.limit,
      window: policy.window,
      ...(policy.burst === undefined ? {} : { burst: policy.burst }),
    },
    maxDelayMs,
    enforced: !policy.shadow,
    onStoreFailure: policy.onStoreFailure,
    replicas,
    localShare,
  });
}

function compileQuota(name: string, policy: RateLimitPolicyConfig, replicas: number, localShare: number): Rule {
  if (policy.period === undefined) throw new TypeError(`quota policy "${name}" has no period`);
  if (policy.mode === 'delay')
    throw new TypeError(`quota policy "${name}" cannot delay: only rate policies can`);
  const base = {
    name,
    kind: 'quota' as const,
    keyPrefix: `rq:${name}:`,
    intervalMs: 0,
    toleranceMs: 0,
    maxDelayMs: 0,
    period: policy.period,
    backoff: null,
    enforced: !policy.shadow,
    onStoreFailure: policy.onStoreFailure,
    refusal: 'GH_LIMIT_QUOTA_EXCEEDED' as const,
  };
  const header = (limit: number): string => `"${name}";q=${limit};w=${PERIOD_SECONDS[policy.period!]}`;
  const share = Math.max(1, Math.floor(policy.limit / replicas));
  const fallback: Rule = { ...base, limit: share, policyHeader: header(share), fallback: null };
  const limit = Math.max(1, Math.floor(policy.limit / localShare));
  return { ...base, limit, policyHeader: header(limit), fallback };
}

interface GcraSpec {
  readonly name: string;
  readonly kind: 'rate' | 'penalty';
  readonly keyPrefix: string;
  readonly rate: SimpleRateConfig;
  readonly maxDelayMs: number;
  readonly enforced: boolean;
  readonly onStoreFailure: StoreFailurePolicy;
  readonly replicas: number;
  /** Processes splitting the limit in memory (RateLimitsConfig.localShare): each admits its share. */
  readonly localShare: number;
}

function gcraRule(spec: GcraSpec): Rule {
  const windowMs = parseDuration(spec.rate.window);
  const limit = spec.rate.limit;
  const burst = spec.rate.burst ?? limit;
  const make = (perLimit: number, perBurst: number, fallback: Rule | null): Rule => {
    const intervalMs = windowMs / perLimit;
    return {
      name: spec.name,
      kind: spec.kind,
      keyPrefix: spec.keyPrefix,
      intervalMs,
      toleranceMs: (perBurst - 1) * intervalMs,
      maxDelayMs: spec.maxDelayMs,
      limit: perLimit,
      period: null,
      backoff: null,
      enforced: spec.enforced,
      onStoreFailure: spec.onStoreFailure,
      refusal: 'GH_LIMIT_RATE_EXCEEDED',
      // A penalty counts failures, not requests: its refusals carry the header all the same
      // (draft-ietf-httpapi-ratelimit-headers: every 429 says which policy and when to come back).
      policyHeader: rateHeader(spec.name, perLimit, windowMs),
      fallback,
    };
  };
  const share = (n: number, by: number): number => Math.max(1, Math.floor(n / by));
  const fallback = make(share(limit, spec.replicas), share(burst, spec.replicas), null);
  return make(share(limit, spec.localShare), share(burst, spec.localShare), fallback);
}

/** `"name";q=100;w=60`; a window under a second (or not a whole one) is stated per whole second. */
function rateHeader(name: string, limit: number, windowMs: number): string {
  if (windowMs % 1000 === 0) return `"${name}";q=${limit};w=${windowMs / 1000}`;
  const seconds = Math.max(1, Math.round(windowMs / 1000));
  return `"${name}";q=${Math.max(1, Math.floor((limit * seconds * 1000) / windowMs))};w=${seconds}`;
}

/** The rules of the pre-auth limit stage, compiled from `preAuthLimit`. */
export interface PreAuthRules {
  readonly perAddress: Rule | null;
  readonly failedAuth: Rule;
  readonly loginAddress: Rule;
  readonly loginUsername: Rule;
  readonly backoffAddress: Rule;
  readonly backoffUsername: Rule;
  /**
   * The per-username limits as they apply to a device that logged in as that username before
   * (device-cookie.ts): the same settings, counters of their own, so no username can name a device.
   */
  readonly loginDevice: Rule;
  readonly backoffDevice: Rule;
}

export function compilePreAuthRules(
  config: PreAuthLimitConfig,
  replicas: number,
  localShare = 1,
): PreAuthRules {
  const onStoreFailure = config.onStoreFailure;
  const rate = (name: string, keyPrefix: string, kind: 'rate' | 'penalty', spec: SimpleRateConfig): Rule =>
    gcraRule({
      name,
      kind,
      keyPrefix,
      rate: spec,
      maxDelayMs: 0,
      enforced: true,
      onStoreFailure,
      replicas,
      localShare,
    });
  const backoff = (name: string, keyPrefix: string): Rule => {
    const settings: BackoffSettings = {
      freeFailures: config.login.backoff.freeFailures,
      initialMs: parseDuration(config.login.backoff.initialDelay),
      maxMs: parseDuration(config.login.backoff.maxDelay),
      forgetMs: parseDuration(config.login.backoff.forgetAfter),
    };
    const rule: Rule = {
      name,
      kind: 'backoff',
      keyPrefix,
      intervalMs: 0,
      toleranceMs: 0,
      maxDelayMs: 0,
      limit: 0,
      period: null,
      backoff: settings,
      enforced: true,
      onStoreFailure,
      refusal: 'GH_LIMIT_RATE_EXCEEDED',
      // The free failures, over the time after which failures are forgotten.
      policyHeader: rateHeader(name, settings.freeFailures, settings.forgetMs),
      fallback: null,
    };
    return { ...rule, fallback: rule };
  };
  return {
    perAddress:
      config.perAddress === null ? null : rate('per-address', 'pa:addr:', 'rate', config.perAddress),
    failedAuth: rate('auth-failures', 'pa:authfail:', 'penalty', config.failedAuth),
    loginAddress: rate('login', 'pa:login-addr:', 'rate', config.login.perAddress),
    loginUsername: rate('login-username', 'pa:login-user:', 'rate', config.login.perUsername),
    backoffAddress: backoff('login', 'pa:backoff-addr:'),
    backoffUsername: backoff('login-username', 'pa:backoff-user:'),
    loginDevice: rate('login-device', 'pa:login-device:', 'rate', config.login.perUsername),
    backoffDevice: backoff('login-device', 'pa:backoff-device:'),
  };
}
