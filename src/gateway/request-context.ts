import type { ResponseCondition } from '../auth/policy/conditions.js';
import type { Principal } from '../auth/principal.js';
import type { RouteMatch } from '../contract/index.js';
import type { ResponseContract } from '../contract/validation/index.js';
import type { LimitsNote } from '../limits/note.js';
import { newJourney, type JourneyRecord } from '../observe/journey.js';
import type { StageName } from './stage.js';
import type { FrontRequest } from './front/request.js';
import type { FrontResponse } from './front/response.js';

/**
 * Everything the stages know about one request. A class, so every request has the same shape
 * (one hidden class for V8) and no per-request closures are needed.
 */
export class RequestContext {
  readonly id: string;
  readonly req: FrontRequest;
  readonly res: FrontResponse;
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
  /**
   * Header name/value pairs a stage adds to whatever answer the request gets (the upstream's or
   * a problem): the rate limit's `RateLimit-Policy` and `RateLimit`. null when there are none.
   */
  responseHeaders: string[] | null = null;
  /** What the limit stages must release or count when the request completes (src/limits). */
  limits: LimitsNote | null = null;
  /**
   * Request headers the forward stage must not pass on (the client's credentials), set by the
   * authenticate stage from the operation's compiled policy; null = none beyond the hop-by-hop ones.
   */
  upstreamHeaderDrops: ReadonlySet<string> | null = null;
  /** Name/value pairs the forward stage appends (the identity assertion), set by the authorize stage. */
  upstreamHeaderExtras: readonly string[] | null = null;
  /** The operation's response contract, set by the validate stage; the upstream exchange applies it. */
  responseContract: ResponseContract | null = null;
  /**
   * Conditions the upstream's answer must meet for this principal (`response.owner: principal.sub`),
   * set by the authorize stage; the upstream exchange checks them. null when the operation has none.
   */
  answerConditions: readonly ResponseCondition[] | null = null;
  /** performance.now() when the request was handed to the upstream client; 0 until forwarded. */
  forwardedAt = 0;

  constructor(id: string, req: FrontRequest, res: FrontResponse, clientAddress: string, startedAt: number) {
    this.id = id;
    this.req = req;
    this.res = res;
    this.startedAt = startedAt;
    this.journey = newJourney(id, req.method, clientAddress);
  }
}
