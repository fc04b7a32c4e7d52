import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Principal } from '../auth/principal.js';
import type { RouteMatch } from '../contract/index.js';
import type { JourneyRecord } from '../observe/journey.js';
import type { LimitsNote } from './note.js';

/**
 * What the limits read and write of one request. The gateway's request context is one (the
 * pre-auth limit and rate limit stages hand theirs in); the limits know nothing else of it.
 */
export interface LimitedRequest {
  readonly req: {
    readonly headers: IncomingHttpHeaders;
    readonly hasBody: boolean;
    /** The connection it came on: a repeated refusal closes it (tarpit.ts). */
    readonly socket: Socket;
  };
  readonly res: { shouldKeepAlive: boolean };
  readonly journey: JourneyRecord;
  readonly route: RouteMatch | null;
  readonly principal: Principal | null;
  /** The body once read (by the gateway's body stage, or early through a BodyReader). */
  readonly body: Buffer | null;
  /** What the limits must release or count when the request completes. */
  limits: LimitsNote | null;
  /** Header name/value pairs the response gets: RateLimit-Policy and RateLimit. */
  responseHeaders: string[] | null;
}

/**
 * Reads a request's body early, for a policy keyed on a body field: the gateway's body stage,
 * given the very request the limiter was handed.
 */
export type BodyReader<R extends LimitedRequest> = (request: R) => void | Promise<void>;
