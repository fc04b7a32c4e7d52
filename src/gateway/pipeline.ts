import { toGatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from './request-context.js';
import { sendProblem } from './problems.js';
import type { Stage } from './stage.js';

/**
 * Runs the stages of the request journey in order. Synchronous stages run in one loop with no
 * promise allocated; a stage that returns a promise suspends the loop, which resumes from the
 * next stage once it settles. The first refusal ends the request.
 */
export class Pipeline {
  readonly stages: readonly Stage[];
  readonly #completers: readonly Stage[];
  /**
   * #passedAfter[n]: the names of the first n stages, frozen and shared by every request's
   * journey (stages run in order, so what a request passed is always such a prefix).
   */
  readonly #passedAfter: readonly (readonly string[])[];

  constructor(stages: readonly Stage[]) {
    this.stages = Object.freeze([...stages]);
    this.#completers = Object.freeze(stages.filter((stage) => stage.onComplete !== undefined));
    this.#passedAfter = Object.freeze(
      stages
        .map((_, n) => Object.freeze(stages.slice(0, n).map((stage) => stage.name)))
        .concat([Object.freeze(stages.map((stage) => stage.name))]),
    );
  }

  /** Tells the stages that asked for it how the request ended. */
  complete(ctx: RequestContext): void {
    for (const stage of this.#completers) stage.onComplete!(ctx);
  }

  run(ctx: RequestContext): void {
    const stages = this.stages;
    for (let i = ctx.nextStage; i < stages.length; i += 1) {
      const stage = stages[i]!;
      ctx.currentStage = stage.name;
      let pending: void | Promise<void>;
      try {
        pending = stage.onRequest(ctx);
      } catch (err) {
        sendProblem(ctx, toGatehouseError(err));
        return;
      }
      if (pending !== undefined) {
        ctx.nextStage = i + 1;
        pending.then(
          () => this.#resume(ctx),
          (err: unknown) => sendProblem(ctx, toGatehouseError(err)),
        );
        return;
      }
      ctx.journey.passed = this.#passedAfter[i + 1]!;
    }
  }

  #resume(ctx: RequestContext): void {
    ctx.journey.passed = this.#passedAfter[ctx.nextStage]!;
    if (ctx.res.destroyed) return;
    this.run(ctx);
  }
}
