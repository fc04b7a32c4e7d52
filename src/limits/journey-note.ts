import type { RequestContext } from '../gateway/request-context.js';
import type { Decision } from './limiter.js';
import { REFUSE } from './store.js';

const shadowCounts = new Map<string, number>();

/** How many requests each shadow policy would have refused in this process. */
export function shadowRefusalCounts(): ReadonlyMap<string, number> {
  return shadowCounts;
}

/**
 * Puts in the journey record (and so the access log line) what the operator must be able to
 * see and the client must not: that a failure policy decided instead of the store, and which
 * shadow policies would have refused.
 */
export function noteDecision(ctx: RequestContext, decision: Decision): void {
  if (decision.degraded !== null) appendReason(ctx, `limits: ${decision.degraded}`);
  const { rules, verdicts } = decision;
  for (let i = 0; i < verdicts.length; i += 1) {
    const rule = rules[i]!;
    if (rule.enforced || verdicts[i]!.outcome !== REFUSE) continue;
    shadowCounts.set(rule.name, (shadowCounts.get(rule.name) ?? 0) + 1);
    appendReason(ctx, `shadow policy "${rule.name}" would have refused`);
  }
}

function appendReason(ctx: RequestContext, text: string): void {
  const journey = ctx.journey;
  journey.reason = journey.reason === null ? text : `${journey.reason}; ${text}`;
}
