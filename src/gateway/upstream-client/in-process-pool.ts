import type { LocalAnswer } from '../../auth/oauth/builtin-api.js';
import type { PoolStats, UpstreamDispatcher, UpstreamHandler, UpstreamRequest } from './types.js';

/**
 * An upstream that never opens a connection: each request is answered in-process, through the
 * same handler calls a network answer makes, so the forward and respond stages treat the
 * built-in API (src/auth/oauth/builtin-api.ts) like any upstream.
 */
export class InProcessPool implements UpstreamDispatcher {
  readonly #answer: (request: UpstreamRequest) => LocalAnswer;

  constructor(answer: (request: UpstreamRequest) => LocalAnswer) {
    this.#answer = answer;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    queueMicrotask(() => deliver(handler, this.#answer(request)));
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

function deliver(handler: UpstreamHandler, answer: LocalAnswer): void {
  const body = Buffer.from(answer.body);
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(body.length),
    'cache-control',
    answer.cache,
  ];
  // RFC 6749 §5.1: token answers carry Pragma: no-cache beside Cache-Control: no-store.
  if (answer.cache === 'no-store') headers.push('pragma', 'no-cache');
  let aborted = false;
  handler.onConnect(() => (aborted = true));
  if (aborted || !handler.onHeaders(answer.status, headers, () => undefined) || aborted) return;
  handler.onData(body);
  if (!aborted) handler.onComplete();
}
