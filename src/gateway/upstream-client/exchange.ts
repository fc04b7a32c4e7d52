import type { UpstreamHandler, UpstreamRequest } from './types.js';
import { UpstreamError } from './upstream-error.js';

/** Where an exchange currently is, so that aborting it undoes the right thing. */
export interface ExchangeHost {
  /** The exchange was aborted while a connection carried it: that connection cannot be reused. */
  abandon(exchange: Exchange): void;
  /** The exchange's handler is ready for more of its response (after onData returned false). */
  resume(exchange: Exchange): void;
}

/** RFC 9110 §9.2.1: safe methods, which may be sent again when a reused connection was closed under them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One request's life in the client: queued, written to a connection, answered. It settles
 * exactly once (complete, or one error), and its abort only ever affects itself, never the
 * next request a reused connection carries.
 */
export class Exchange {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  readonly skipsBody: boolean;
  /** Set by the connection carrying it, cleared when it stops carrying it. */
  host: ExchangeHost | null = null;
  settled = false;
  /** The upstream has said something about this request (a status line at least). */
  responseStarted = false;
  retried = false;
  /**
   * When the response timeout ends (performance clock), moved on by `progress`; the pool's sweep
   * expires an exchange past it. Infinity: no timeout.
   */
  deadline = Infinity;
  /** The response timeout, from the hand-over and again from each sign of progress. */
  timeoutMs = Infinity;
  readonly abort: (reason: Error) => void;
  /** Given to the handler with the headers: only ever resumes this exchange's own response. */
  readonly resume: () => void;

  constructor(request: UpstreamRequest, handler: UpstreamHandler) {
    this.request = request;
    this.handler = handler;
    this.skipsBody = request.method === 'HEAD';
    this.abort = (reason) => this.#abort(reason);
    this.resume = () => this.host?.resume(this);
  }

  /** May be sent again on a fresh connection: nothing was heard yet and resending is harmless. */
  get retriable(): boolean {
    return !this.responseStarted && !this.retried && SAFE_METHODS.has(this.request.method);
  }

  /** Starts the response timeout. */
  startTimeout(ms: number, now: number): void {
    this.timeoutMs = ms;
    this.deadline = now + ms;
  }

  /** The upstream sent part of the response: the timeout runs again from now. */
  progress(): void {
    if (this.timeoutMs !== Infinity) this.deadline = performance.now() + this.timeoutMs;
  }

  /** Ends the exchange with an error (once); the handler hears it now. */
  fail(err: Error): void {
    if (this.settled) return;
    this.#settle();
    this.handler.onError(err);
  }

  /** Ends the exchange with an error (once), wherever it is: its connection, if any, is closed. */
  expire(err: Error): void {
    if (this.settled) return;
    const host = this.host;
    this.host = null;
    this.fail(err);
    host?.abandon(this);
  }

  /** Ends the exchange successfully (once). */
  complete(): void {
    if (this.settled) return;
    this.#settle();
    this.handler.onComplete();
  }

  #settle(): void {
    this.settled = true;
    this.deadline = Infinity;
  }

  /**
   * The caller gave up (client gone, answer too large, …). The handler hears the reason on a
   * later tick, never from inside its own callback.
   */
  #abort(reason: Error): void {
    if (this.settled) return;
    this.#settle();
    const host = this.host;
    this.host = null;
    host?.abandon(this);
    queueMicrotask(() => this.handler.onError(reason));
  }
}

export function responseTimeout(ms: number): UpstreamError {
  return new UpstreamError('UPSTREAM_RESPONSE_TIMEOUT', `no complete answer within ${ms} ms`);
}
