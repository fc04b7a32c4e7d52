import type { LocalResponse } from '../../auth/oauth/builtin-api.js';
import type { PoolStats, UpstreamDispatcher, UpstreamHandler, UpstreamRequest } from './types.js';

/**
 * An upstream that never opens a connection: each request is answered in-process, through the
 * same handler calls a network response makes, so the forward and respond stages treat the
 * built-in API (src/auth/oauth/builtin-api.ts) like any upstream.
 */
export class InProcessPool implements UpstreamDispatcher {
  readonly #respond: (request: UpstreamRequest) => LocalResponse;

  constructor(respond: (request: UpstreamRequest) => LocalResponse) {
    this.#respond = respond;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    queueMicrotask(() => deliver(handler, this.#respond(request)));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  stats(): PoolStats {
    return NO_CONNECTIONS;
  }

  /** Answered in this process: reachable while the gateway is. */
  probe(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

const NO_CONNECTIONS: PoolStats = Object.freeze({ open: 0, idle: 0, waiting: 0 });

function deliver(handler: UpstreamHandler, response: LocalResponse): void {
  const body = Buffer.from(response.body);
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(body.length),
    'cache-control',
    response.cache,
  ];
  // RFC 6749 §5.1: token answers carry Pragma: no-cache beside Cache-Control: no-store.
  if (response.cache === 'no-store') headers.push('pragma', 'no-cache');
  let aborted = false;
  handler.onConnect(() => (aborted = true));
  if (aborted || !handler.onHeaders(response.status, headers, () => undefined) || aborted) return;
  handler.onData(body);
  if (!aborted) handler.onComplete();
}
