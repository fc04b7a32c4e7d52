import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import { sendProblem, HSTS_VALUE } from '../respond.js';
import type { UpstreamTarget } from '../upstream.js';
import { listsToken } from '../headers.js';

/** Response headers that describe the upstream hop or that the gateway states itself. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'server',
  'x-powered-by',
  'strict-transport-security',
  'x-content-type-options',
  'x-request-id',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * One request's exchange with the upstream, as an undici dispatch handler (its callback API
 * avoids a stream and a parsed header object per request). A small answer is held until it is
 * complete and written with its headers in one call; a larger one is streamed with
 * back-pressure. Nothing the upstream says about its own failures reaches the client.
 */
export class UpstreamExchange {
  readonly #ctx: RequestContext;
  readonly #maxBytes: number;
  #abort: ((reason: Error) => void) | null = null;
  #status = 0;
  #headers: string[] | null = null;
  #pending: Buffer | null = null;
  #received = 0;
  #streaming = false;
  #clientGone = false;
  #replacedBy: GatehouseError | null = null;

  constructor(ctx: RequestContext, target: UpstreamTarget) {
    this.#ctx = ctx;
    this.#maxBytes = target.maxResponseBytes;
  }

  /** The client went away: stop the upstream work too. */
  abort(): void {
    this.#clientGone = true;
    this.#abort?.(new Error('client closed the connection'));
  }

  onConnect(abort: (reason: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new Error('client closed the connection'));
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    if (status >= 500) {
      // The upstream's own error page may carry a stack trace or an internal host name: read
      // and drop it (the connection stays reusable), then answer a generic problem.
      this.#replacedBy = new GatehouseError('GH_UPSTREAM_BAD_RESPONSE', `upstream answered ${status}`);
      return true;
    }
    const ctx = this.#ctx;
    const headers = [
      'strict-transport-security',
      HSTS_VALUE,
      'x-content-type-options',
      'nosniff',
      'x-request-id',
      ctx.id,
    ];
    let connectionTokens: string | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      const value = rawHeaders[i + 1]!.toString('latin1');
      if (name === 'connection') connectionTokens = value;
      if (name === 'content-length' && Number(value) > this.#maxBytes) {
        this.#fail(new GatehouseError('GH_UPSTREAM_RESPONSE_TOO_LARGE', `upstream declared ${value} bytes`));
        return false;
      }
      if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.push(name, value);
    }
    this.#status = status;
    this.#headers = connectionTokens === null ? headers : withoutConnectionTokens(headers, connectionTokens);
    this.#resume = resume;
    return true;
  }

  #resume: (() => void) | null = null;

  onData(chunk: Buffer): boolean {
    this.#received += chunk.length;
    if (this.#replacedBy !== null)
      return this.#received <= this.#maxBytes || this.#abortWith(this.#replacedBy);
    if (this.#received > this.#maxBytes) {
      this.#fail(
        new GatehouseError('GH_UPSTREAM_RESPONSE_TOO_LARGE', `upstream sent over ${this.#maxBytes} bytes`),
      );
      return false;
    }
    if (!this.#streaming) {
      if (this.#pending === null) {
        this.#pending = chunk;
        return true;
      }
      this.#startStreaming();
    }
    const res = this.#ctx.res;
    if (res.write(chunk)) return true;
    res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    const ctx = this.#ctx;
    if (this.#replacedBy !== null) {
      sendProblem(ctx, this.#replacedBy);
      return;
    }
    if (this.#streaming) {
      ctx.res.end();
      return;
    }
    if (ctx.answered) return;
    ctx.answered = true;
    ctx.journey.decidedBy = 'respond';
    const headers = this.#headers!;
    const pending = this.#pending;
    if (!hasHeader(headers, 'content-length') && bodyAllowed(this.#status, ctx.req.method)) {
      headers.push('content-length', String(pending === null ? 0 : pending.length));
    }
    ctx.res.writeHead(this.#status, headers);
    ctx.res.end(pending ?? undefined);
  }

  onError(err: Error): void {
    if (this.#clientGone) return;
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof GatehouseError) sendProblem(this.#ctx, err);
    else if (TIMEOUT_CODES.has(code))
      sendProblem(this.#ctx, new GatehouseError('GH_UPSTREAM_TIMEOUT', describe(err)));
    else sendProblem(this.#ctx, new GatehouseError('GH_UPSTREAM_UNREACHABLE', describe(err)));
  }

  #startStreaming(): void {
    const ctx = this.#ctx;
    this.#streaming = true;
    ctx.answered = true;
    ctx.journey.decidedBy = 'respond';
    ctx.res.writeHead(this.#status, this.#headers!);
    ctx.res.write(this.#pending!);
    this.#pending = null;
  }

  #fail(err: GatehouseError): void {
    this.#abort?.(err);
  }

  #abortWith(err: GatehouseError): false {
    this.#abort?.(err);
    return false;
  }
}

function describe(err: Error): string {
  const code = (err as { code?: string }).code;
  return code === undefined ? err.message : `${code}: ${err.message}`;
}

function hasHeader(headers: string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}

/** RFC 9110 §8.6: no Content-Length on 1xx/204, and a HEAD answer keeps the upstream's. */
function bodyAllowed(status: number, method: string | undefined): boolean {
  return status !== 204 && status !== 304 && method !== 'HEAD';
}

function withoutConnectionTokens(headers: string[], connectionTokens: string): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!listsToken(connectionTokens, headers[i]!)) kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}
