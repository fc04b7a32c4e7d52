import type { Principal } from '../auth/principal.js';
import type { RouteMatch } from '../contract/index.js';
import type { LimitsNote } from '../limits/note.js';
import { newJourney, type JourneyRecord } from '../observe/journey.js';
import type { StageName } from './stage-names.js';
import type { FrontRequest } from './front/request.js';
import type { FrontResponse, ResponseHandler } from './front/response.js';

/**
 * One request on its journey: what arrived, and what each stage hands the stages after it (each
 * field names who writes it and who reads it). What the upstream's response is checked against
 * is compiled per operation (response-checks.ts), not carried here. A class, so every request has
 * the same shape (one hidden class for V8) and no per-request closures are needed.
 */
export class RequestContext implements ResponseHandler {
  // What arrived, fixed for the request's life.
  readonly id: string;
  readonly req: FrontRequest;
  readonly res: FrontResponse;
  readonly startedAt: number;
  /** What operators see of the request afterwards: each stage notes its outcome here. */
  readonly journey: JourneyRecord;

  // Handed from stage to stage.
  /** route → every later stage: the operation and its parameters. */
  route: RouteMatch | null = null;
  /** authenticate → rate limit, authorize, forward, respond; null for public operations. */
  principal: Principal | null = null;
  /** body (or a limit keyed on a body field, early) → validate, forward; null when there is none. */
  body: Buffer | null = null;
  /**
   * authenticate → forward: request headers not passed on (the client's credentials), from the
   * operation's compiled policy; null = none beyond the hop-by-hop ones.
   */
  upstreamHeaderDrops: ReadonlySet<string> | null = null;
  /** authorize → forward: name/value pairs appended for the upstream (the identity assertion). */
  upstreamHeaderExtras: readonly string[] | null = null;
  /**
   * rate limit, cors → whatever response the request gets (the upstream's or a problem):
   * header name/value pairs such as `RateLimit-Policy` and `RateLimit`. null when there are none.
   */
  responseHeaders: string[] | null = null;
  /** The limit stages' own note: what they release or count when the request completes (src/limits). */
  limits: LimitsNote | null = null;

  // The journey's bookkeeping: the pipeline and the gateway's, not the stages'.
  /** The pipeline this request runs through (the one current when it arrived). */
  pipeline: { complete(ctx: RequestContext): void } | null = null;
  /** Index of the next stage to run; lets the pipeline resume after an asynchronous stage. */
  nextStage = 0;
  /** The stage running now: a refusal is attributed to it. */
  currentStage: StageName = 'transport';
  /** The exchange with the upstream once forwarded: aborted if the client goes away. */
  upstream: { abort(): void } | null = null;
  /** Set once a response (the upstream's or a problem) has started, so nothing writes a second. */
  responseStarted = false;
  /** Set once the request is recorded (metrics, log, journey), so it is recorded once. */
  recorded = false;

  /** What the gateway does once the response is done: record the request, tell the stages. */
  readonly #done: (ctx: RequestContext) => void;

  constructor(
    id: string,
    req: FrontRequest,
    res: FrontResponse,
    clientAddress: string,
    startedAt: number,
    done: (ctx: RequestContext) => void,
  ) {
    this.id = id;
    this.#done = done;
    this.req = req;
    this.res = res;
    this.startedAt = startedAt;
    this.journey = newJourney(id, req.method, clientAddress);
  }

  responseDone(): void {
    this.#done(this);
  }
}
