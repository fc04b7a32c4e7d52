import { GatehouseError } from '../errors/gatehouse-error.js';
import type { Decision } from './limiter.js';
import type { Rule } from './rule.js';
import { DELAY, REFUSE, type Verdict } from './store.js';

/**
 * Turning verdicts into response headers and refusals, with the fields of draft-ietf-httpapi-ratelimit-headers:
 * `RateLimit-Policy: "name";q=100;w=60` (the policy) and `RateLimit: "name";r=42;t=17`
 * (remaining now, seconds until the allowance is full again), plus `Retry-After` (RFC 9110
 * §10.2.3, whole seconds) on a refusal.
 */

/** Whole seconds, rounded up, at least `min`: a client told 0 would retry at once. */
function seconds(ms: number, min: number): number {
  return Math.max(min, Math.ceil(ms / 1000));
}

/**
 * The refusal, when an enforced rule refuses; the strictest answer wins (the longest wait).
 * Only the violated policy's name goes to the client: not its key, not the other policies.
 */
export function refusalOf(decision: Decision): GatehouseError | null {
  if (decision.unavailable !== null) {
    return new GatehouseError('GH_LIMIT_STORE_UNAVAILABLE', decision.degraded ?? 'store unavailable', {
      'retry-after': '1',
    });
  }
  const { rules, verdicts } = decision;
  let worst = -1;
  for (let i = 0; i < verdicts.length; i += 1) {
    const v = verdicts[i]!;
    if (v.outcome === REFUSE && rules[i]!.enforced && (worst < 0 || v.waitMs > verdicts[worst]!.waitMs))
      worst = i;
  }
  if (worst < 0) return null;
  const rule = rules[worst]!;
  const v = verdicts[worst]!;
  const retryAfter = String(seconds(v.waitMs, 1));
  const detail =
    `${rule.kind} policy "${rule.name}" refused; retry after ${Math.round(v.waitMs)} ms` +
    (decision.degraded === null ? '' : ` (${decision.degraded})`);
  const headers: Record<string, string> = { 'retry-after': retryAfter };
  if (rule.policyHeader !== null) {
    headers['ratelimit-policy'] = rule.policyHeader;
    headers['ratelimit'] = `"${rule.name}";r=0;t=${seconds(v.resetMs, 1)}`;
  }
  return new GatehouseError(rule.refusal, detail, headers);
}

/** Whether `rule` (or its fallback share) is among the enforced rules that refused. */
export function refusedBy(decision: Decision, rule: Rule): boolean {
  for (let i = 0; i < decision.verdicts.length; i += 1) {
    const decidedBy = decision.rules[i]!;
    if (decision.verdicts[i]!.outcome !== REFUSE || !decidedBy.enforced) continue;
    if (decidedBy === rule || decidedBy === rule.fallback) return true;
  }
  return false;
}

/** The `RateLimit-Policy` value of the rules that decided (a fallback's share differs from the policy). */
export function policyValue(rules: readonly Rule[]): string {
  let value = '';
  for (const rule of rules) {
    if (rule.policyHeader === null || !rule.enforced) continue;
    value = value === '' ? rule.policyHeader : `${value}, ${rule.policyHeader}`;
  }
  return value;
}

/** The `RateLimit` value for an admitted request: one item per enforced policy that has a header. */
export function rateLimitValue(rules: readonly Rule[], verdicts: readonly Verdict[]): string {
  let value = '';
  for (let i = 0; i < rules.length; i += 1) {
    const rule = rules[i]!;
    const v = verdicts[i]!;
    if (rule.policyHeader === null || !rule.enforced || v.remaining < 0) continue;
    if (value !== '') value += ', ';
    value += `"${rule.name}";r=${v.remaining};t=${seconds(v.resetMs, 0)}`;
  }
  return value;
}

/** How long the request waits for its turn (delay mode), 0 when it goes at once. */
export function delayOf(rules: readonly Rule[], verdicts: readonly Verdict[]): number {
  let wait = 0;
  for (let i = 0; i < verdicts.length; i += 1) {
    const v = verdicts[i]!;
    if (v.outcome === DELAY && rules[i]!.enforced && v.waitMs > wait) wait = v.waitMs;
  }
  return wait;
}
