import type { LimitedRequest } from './request.js';
import type { Decision } from './limiter.js';
import { DELAY, REFUSE } from './store.js';

const shadowCounts = new Map<string, number>();

/** How many requests each shadow policy would have refused in this process. */
export function shadowRefusalCounts(): ReadonlyMap<string, number> {
  return shadowCounts;
}

/** What the limiters decided in this process, for metrics (`gatehouse_limiter_decisions_total`). */
export const LIMITER_OUTCOMES = ['admitted', 'refused', 'delayed', 'shadow', 'fallback'] as const;
export type LimiterOutcome = (typeof LIMITER_OUTCOMES)[number];
const decisionCounts = new Float64Array(LIMITER_OUTCOMES.length);
const ADMITTED = 0;
const REFUSED = 1;
const DELAYED = 2;
const SHADOW = 3;
const FALLBACK = 4;

/** Decisions by outcome since the process started: one decision per request and limit stage. */
export function limiterDecisionCounts(): ReadonlyMap<LimiterOutcome, number> {
  return new Map(LIMITER_OUTCOMES.map((outcome, i) => [outcome, decisionCounts[i]!]));
}

/**
 * Puts in the journey record (and so the access log line) what the operator must be able to
 * see and the client must not: that a failure policy decided instead of the store, and which
 * shadow policies would have refused. Counts the decision by outcome.
 */
export function noteDecision(ctx: LimitedRequest, decision: Decision): void {
  if (decision.degraded !== null) {
    count(FALLBACK);
    appendReason(ctx, `limits: ${decision.degraded}`);
  }
  const { rules, verdicts } = decision;
  let outcome = decision.unavailable === null ? ADMITTED : REFUSED;
  for (let i = 0; i < verdicts.length; i += 1) {
    const rule = rules[i]!;
    const verdict = verdicts[i]!.outcome;
    if (rule.enforced) {
      if (verdict === REFUSE) outcome = REFUSED;
      else if (verdict === DELAY && outcome === ADMITTED) outcome = DELAYED;
      continue;
    }
    if (verdict !== REFUSE) continue;
    count(SHADOW);
    shadowCounts.set(rule.name, (shadowCounts.get(rule.name) ?? 0) + 1);
    appendReason(ctx, `shadow policy "${rule.name}" would have refused`);
  }
  count(outcome);
}

function count(outcome: number): void {
  decisionCounts[outcome] = decisionCounts[outcome]! + 1;
}

function appendReason(ctx: LimitedRequest, text: string): void {
  const journey = ctx.journey;
  journey.reason = journey.reason === null ? text : `${journey.reason}; ${text}`;
}
