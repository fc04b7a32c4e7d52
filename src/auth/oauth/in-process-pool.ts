import { Pool, type Dispatcher } from 'undici';

/** An answer made in-process: status, JSON body and its Cache-Control. */
export interface LocalAnswer {
  readonly status: number;
  readonly body: string;
  readonly cache: string;
}

/**
 * An undici Pool that never opens a connection: each request is answered in-process, through
 * the same handler calls a network answer makes, so the forward and respond stages treat the
 * built-in API like any upstream.
 */
export class InProcessPool extends Pool {
  readonly #answer: (options: Dispatcher.DispatchOptions) => LocalAnswer;

  constructor(answer: (options: Dispatcher.DispatchOptions) => LocalAnswer) {
    super('https://gatehouse.builtin.invalid', { connections: 1 });
    this.#answer = answer;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    queueMicrotask(() => deliver(handler, this.#answer(options)));
    return true;
  }
}

function deliver(handler: Dispatcher.DispatchHandler, answer: LocalAnswer): void {
  const body = Buffer.from(answer.body);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'cache-control': answer.cache,
  };
  let aborted = false;
  if (handler.onHeaders !== undefined) {
    handler.onConnect?.(() => (aborted = true));
    const raw = Object.entries(headers).flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
    if (aborted || handler.onHeaders(answer.status, raw, () => undefined, '') === false || aborted) return;
    handler.onData?.(body);
    if (!aborted) handler.onComplete?.(null);
    return;
  }
  const controller: Dispatcher.DispatchController = {
    get aborted() {
      return aborted;
    },
    paused: false,
    reason: null,
    abort: () => (aborted = true),
    pause: () => undefined,
    resume: () => undefined,
  };
  handler.onRequestStart?.(controller, {});
  if (aborted) return;
  handler.onResponseStart?.(controller, answer.status, headers, '');
  if (!aborted) handler.onResponseData?.(controller, body);
  if (!aborted) handler.onResponseEnd?.(controller, {});
}
