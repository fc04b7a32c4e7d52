import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { RouteMatch } from '../contract/index.js';
import type { JourneyRecord } from '../observe/journey.js';
import type { StageName } from './stage.js';

/**
 * Everything the stages know about one request. A class, so every request has the same shape
 * (one hidden class for V8) and no per-request closures are needed.
 */
export class RequestContext {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: number;
  readonly journey: JourneyRecord;
  route: RouteMatch | null = null;
  /** Set by the authenticate stage; null for public operations and before authentication. */
  principal: Principal | null = null;
  /** The request body, read and size-checked by the body stage; null when there is none. */
  body: Buffer | null = null;
  /** Index of the next stage to run; lets the runner resume after an asynchronous stage. */
  nextStage = 0;
  /** The stage running now: a refusal is attributed to it. */
  currentStage: StageName = 'transport';
  /** Set once the answer (upstream or problem) has started, so nothing writes twice. */
  answered = false;
  finished = false;
  /** The pipeline this request runs through (the one current when it arrived). */
  pipeline: { complete(ctx: RequestContext): void } | null = null;
  /** The exchange with the upstream once forwarded: aborted if the client goes away. */
  upstream: { abort(): void } | null = null;

  constructor(
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    clientAddress: string,
    startedAt: number,
  ) {
    this.id = id;
    this.req = req;
    this.res = res;
    this.startedAt = startedAt;
    this.journey = {
      requestId: id,
      startedAt: Date.now(),
      method: req.method ?? '',
      clientAddress,
      route: null,
      api: null,
      passed: [],
      decidedBy: null,
      code: null,
      reason: null,
      status: 0,
      durationMs: 0,
    };
  }
}
