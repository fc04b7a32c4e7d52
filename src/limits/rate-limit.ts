import { setTimeout as sleep } from 'node:timers/promises';
import type { Operation } from '../contract/index.js';
import type { BodyReader, LimitedRequest } from './request.js';
import { delayOf, policyValue, rateLimitValue, refusalOf } from './verdicts.js';
import { bodyPending } from './body-field.js';
import { noteDecision } from './journey-note.js';
import type { Decision, Limiter } from './limiter.js';
import type { OperationPlan } from './plan.js';

/**
 * The policies of each operation (`rateLimits.apply` and `x-gatehouse-rate-limit`), keyed by
 * principal, API key, operation, header, parameter or body field. A refusal is decided before
 * any upstream work; an admitted request carries the RateLimit headers to its response; a
 * request over a `delay` policy waits for its turn instead (bounded per key by `maxDelay`, and
 * per process by `maxDelayed`).
 */
export class RateLimiter<R extends LimitedRequest = LimitedRequest> {
  readonly #plans: ReadonlyMap<Operation, OperationPlan>;
  readonly #limiter: Limiter;
  readonly #readBody: BodyReader<R>;
  readonly #maxDelayed: number;
  #delayed = 0;

  constructor(options: {
    plans: ReadonlyMap<Operation, OperationPlan>;
    limiter: Limiter;
    readBody: BodyReader<R>;
    maxDelayed: number;
  }) {
    this.#plans = options.plans;
    this.#limiter = options.limiter;
    this.#readBody = options.readBody;
    this.#maxDelayed = options.maxDelayed;
  }

  /** Throttled requests waiting now in this process. */
  get delayed(): number {
    return this.#delayed;
  }

  onRequest(ctx: R): void | Promise<void> {
    const plan = this.#plans.get(ctx.route!.operation);
    if (plan === undefined) return;
    if (plan.needsBody && bodyPending(ctx)) {
      return Promise.resolve(this.#readBody(ctx)).then(() => this.#decide(ctx, plan));
    }
    return this.#decide(ctx, plan);
  }

  #decide(ctx: LimitedRequest, plan: OperationPlan): void | Promise<void> {
    const rules = this.#delayed >= this.#maxDelayed ? plan.rejectRules : plan.rules;
    const keys = new Array<string>(plan.keys.length);
    for (let i = 0; i < keys.length; i += 1) keys[i] = plan.keys[i]!(ctx);
    const decision = this.#limiter.decide(rules, keys);
    if (decision instanceof Promise) return decision.then((d) => this.#apply(ctx, plan, d));
    return this.#apply(ctx, plan, decision);
  }

  #apply(ctx: LimitedRequest, plan: OperationPlan, decision: Decision): void | Promise<void> {
    noteDecision(ctx, decision);
    const refusal = refusalOf(decision);
    if (refusal !== null) throw refusal;
    const { rules, verdicts } = decision;
    if (plan.policyHeader !== null) {
      // Under a fallback the share that decided is what the client is told about.
      const policy = decision.degraded === null ? plan.policyHeader : policyValue(rules);
      addHeaders(ctx, policy, rateLimitValue(rules, verdicts));
    }
    const wait = delayOf(rules, verdicts);
    if (wait <= 0) return;
    this.#delayed += 1;
    return sleep(wait).then(this.#released);
  }

  readonly #released = (): void => {
    this.#delayed -= 1;
  };
}

function addHeaders(ctx: LimitedRequest, policy: string, value: string): void {
  const headers = (ctx.responseHeaders ??= []);
  headers.push('ratelimit-policy', policy);
  if (value !== '') headers.push('ratelimit', value);
}
