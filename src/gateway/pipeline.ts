import { toGatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from './request-context.js';
import { sendProblem } from './respond.js';
import type { Stage } from './stage.js';

/**
 * Runs the stages of the request journey in order. Synchronous stages run in one loop with no
 * promise allocated; a stage that returns a promise suspends the loop, which resumes from the
 * next stage once it settles. The first refusal ends the request.
 */
export class Pipeline {
  readonly stages: readonly Stage[];
  readonly #completers: readonly Stage[];

  constructor(stages: readonly Stage[]) {
    this.stages = Object.freeze([...stages]);
    this.#completers = Object.freeze(stages.filter((stage) => stage.onComplete !== undefined));
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
      ctx.journey.passed.push(stage.name);
    }
  }

  #resume(ctx: RequestContext): void {
    ctx.journey.passed.push(ctx.currentStage);
    if (ctx.res.destroyed) return;
    this.run(ctx);
  }
}
