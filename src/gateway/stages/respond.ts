import { unmetResponseCondition } from '../../auth/policy/conditions.js';
import { checkResponseBody, type ResponseDecision } from '../../contract/validation/index.js';
import { parseBoundedJson, type JsonBounds } from '../../contract/validation/safe-json.js';
import { responseFailsLogin } from '../../limits/extension.js';
import { loginDeviceCookie } from '../../limits/note.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { ResponseChecks } from '../response-checks.js';
import { securityPreamble, sendProblem } from '../problems.js';
import type { UpstreamTarget } from '../upstream.js';
import { listsToken } from '../headers.js';
import type { UpstreamHandler } from '../upstream-client/types.js';
import { describeError, UpstreamError } from '../upstream-client/upstream-error.js';

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
  'content-security-policy',
  'x-request-id',
  // CORS is the gateway's to answer, as its configuration allows (stages/cors.ts).
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
]);

/** Connection values that name no other header, so there is nothing more to strip. */
const PLAIN_CONNECTION_VALUES = new Set(['keep-alive', 'close']);

/**
 * A small response is handed to the socket as one latin1 string (byte for byte the same) so that
 * Node writes status line, headers and body in a single TLS record and system call instead of
 * gathering a header string and a body buffer.
 */
const SINGLE_WRITE_MAX_BYTES = 16_384;

/**
 * One request's exchange with the upstream, as an upstream-client handler (callbacks, not a
 * stream and a parsed header object per request). A small response is held until it is
 * complete and written with its headers in one call; a larger one is streamed with
 * back-pressure. Nothing the upstream says about its own failures reaches the client.
 */
export class UpstreamExchange implements UpstreamHandler {
  readonly #ctx: RequestContext;
  readonly #maxBytes: number;
  readonly #checks: ResponseChecks;
  /** performance.now() when the request was handed to the upstream client. */
  readonly #forwardedAt = performance.now();
  #abort: ((reason: Error) => void) | null = null;
  #status = 0;
  #headers: string[] | null = null;
  #pending: Buffer | null = null;
  #received = 0;
  #streaming = false;
  #clientGone = false;
  #replacedBy: GatehouseError | null = null;
  #declaredLength = false;
  /** Index of the content-length value in #headers, to restate it after filtering; -1 when absent. */
  #lengthIndex = -1;
  /** Set when the response's body must be checked against the contract: held whole, never streamed. */
  #checked: Exclude<ResponseDecision, string | null> | null = null;
  /** Set when the response's JSON must be read (owner conditions, a login's failedWhen): held whole. */
  #inspected = false;
  #encoded = false;
  #held: Buffer[] | null = null;

  constructor(ctx: RequestContext, target: UpstreamTarget, checks: ResponseChecks) {
    this.#ctx = ctx;
    this.#maxBytes = target.maxResponseBytes;
    this.#checks = checks;
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

  onHeaders(status: number, rawHeaders: readonly string[], resume: () => void): boolean {
    if (status < 200) return true;
    const ctx = this.#ctx;
    ctx.journey.upstreamMs = Math.round((performance.now() - this.#forwardedAt) * 1000) / 1000;
    const note = ctx.limits;
    if (note !== null && note.loginAddressKey !== null) note.loginResponseStatus = status;
    if (status >= 500) {
      // The upstream's own error page may carry a stack trace or an internal host name: read
      // and drop it (the connection stays reusable), then answer a generic problem.
      this.#replace(new GatehouseError('GH_UPSTREAM_BAD_RESPONSE', `upstream answered ${status}`));
      return true;
    }
    if (this.#checks.ownerConditions !== null) {
      // Where ownership is checked on the response, "not yours", "missing", "forbidden" and any
      // other status that could tell them apart (a redirect, a 409, a 410) read the same.
      if (status >= 300) {
        this.#replace(new GatehouseError('GH_OBJECT_ABSENT', `upstream answered ${status}`));
        return true;
      }
      if (status < 300) this.#inspected = true;
    }
    if (note !== null && note.loginFailedWhen !== null && status < 300) this.#inspected = true;
    const contract = this.#checks.contract;
    // RFC 9111 §5.2.2.5: a response given for credentials is never stored by any cache.
    const noStore = ctx.principal !== null || contract.noStore;
    const headers: string[] = [];
    // Only the upstream's own headers may be named by its Connection header (RFC 9110 §7.6.1):
    // the gateway's security headers, no-store and limit headers are never the upstream's to drop.
    const connectionTokens = namedByConnection(rawHeaders);
    const sized = bodyAllowed(status, ctx.req.method);
    let contentType: string | undefined;
    let contentEncoding: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toLowerCase();
      const value = rawHeaders[i + 1]!;
      if (connectionTokens !== null && listsToken(connectionTokens, name)) continue;
      if (name === 'content-length') {
        // A HEAD or 304 answer's length describes the resource, not bytes that will follow.
        if (sized && Number(value) > this.#maxBytes) {
          return this.#abortWith(
            new GatehouseError('GH_UPSTREAM_RESPONSE_TOO_LARGE', `upstream declared ${value} bytes`),
          );
        }
        this.#declaredLength = true;
        this.#lengthIndex = headers.length;
      } else if (name === 'content-type') contentType = value;
      else if (name === 'content-encoding') contentEncoding = value;
      else if (noStore && name === 'cache-control') continue;
      if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.push(name, value);
    }
    const decision = contract.decide(status, ctx.req.method, contentType, contentEncoding);
    if (typeof decision === 'string') {
      this.#replace(new GatehouseError('GH_UPSTREAM_CONTRACT_VIOLATION', decision));
      return true;
    }
    this.#checked = decision;
    // A compressed response cannot be read here: owner conditions then fail closed.
    this.#encoded = contentEncoding !== undefined && contentEncoding.toLowerCase() !== 'identity';
    if (noStore) headers.push('cache-control', 'no-store');
    const extra = ctx.responseHeaders;
    if (extra !== null) for (let i = 0; i < extra.length; i += 1) headers.push(extra[i]!);
    // A login its status makes a success: the device cookie goes with these headers, so with a
    // streamed response too. Only this response carries it, never a problem that replaces it.
    const device = note === null || note.devices === null ? null : loginDeviceCookie(note);
    if (device !== null) headers.push('set-cookie', device);
    this.#status = status;
    this.#headers = headers;
    this.#resume = resume;
    return true;
  }

  #resume: (() => void) | null = null;
  #awaitingDrain = false;

  onData(chunk: Buffer): boolean {
    this.#received += chunk.length;
    if (this.#replacedBy !== null)
      return this.#received <= this.#maxBytes || this.#abortWith(this.#replacedBy);
    if (this.#received > this.#maxBytes) {
      return this.#abortWith(
        new GatehouseError('GH_UPSTREAM_RESPONSE_TOO_LARGE', `upstream sent over ${this.#maxBytes} bytes`),
      );
    }
    if (this.#checked !== null || this.#inspected) {
      (this.#held ??= []).push(chunk);
      return true;
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
    if (!this.#awaitingDrain) {
      this.#awaitingDrain = true;
      res.onDrain(() => {
        this.#awaitingDrain = false;
        this.#resume!();
      });
    }
    return false;
  }

  onComplete(): void {
    const ctx = this.#ctx;
    if (this.#replacedBy !== null) {
      sendProblem(ctx, this.#replacedBy);
      return;
    }
    if (this.#inspected) {
      const raw = this.#heldBody();
      if (!this.#inspect(raw)) {
        sendProblem(ctx, this.#replacedBy!);
        return;
      }
      if (this.#checked === null) this.#pending = raw.length === 0 ? null : raw;
    }
    if (this.#checked !== null) {
      this.#completeChecked();
      return;
    }
    if (this.#streaming) {
      ctx.res.end();
      return;
    }
    if (ctx.responseStarted) return;
    ctx.responseStarted = true;
    ctx.journey.decidedBy = 'respond';
    const headers = this.#headers!;
    const pending = this.#pending;
    if (!this.#declaredLength && bodyAllowed(this.#status, ctx.req.method)) {
      headers.push('content-length', String(pending === null ? 0 : pending.length));
    }
    ctx.res.writeHead(this.#status, headers, securityPreamble(ctx.id));
    if (pending === null) ctx.res.end();
    else if (pending.length <= SINGLE_WRITE_MAX_BYTES) ctx.res.end(pending.toString('latin1'), 'latin1');
    else ctx.res.end(pending);
  }

  onError(err: Error): void {
    if (this.#clientGone) return;
    if (err instanceof GatehouseError) sendProblem(this.#ctx, err);
    else if (err instanceof UpstreamError && err.isTimeout)
      sendProblem(this.#ctx, new GatehouseError('GH_UPSTREAM_TIMEOUT', describeError(err)));
    else sendProblem(this.#ctx, new GatehouseError('GH_UPSTREAM_UNREACHABLE', describeError(err)));
  }

  /**
   * Checks a held response against its response contract and writes what may leave: the original
   * bytes when nothing was undeclared, the filtered JSON otherwise; or replaces it with a 502.
   */
  #completeChecked(): void {
    const ctx = this.#ctx;
    if (ctx.responseStarted) return;
    const raw = this.#heldBody();
    const removed: string[] = [];
    const checked = checkResponseBody(this.#checked!, this.#checks.contract.mode, raw, removed);
    if (checked.violation !== null) {
      this.#replace(new GatehouseError('GH_UPSTREAM_CONTRACT_VIOLATION', checked.violation));
      sendProblem(ctx, this.#replacedBy!);
      return;
    }
    if (removed.length > 0) ctx.journey.contract = removed.map(describeRemoval);
    ctx.responseStarted = true;
    ctx.journey.decidedBy = 'respond';
    const headers = this.#headers!;
    const body = checked.body!;
    const length = String(body.length);
    if (this.#lengthIndex >= 0) headers[this.#lengthIndex + 1] = length;
    else headers.push('content-length', length);
    ctx.res.writeHead(this.#status, headers, securityPreamble(ctx.id));
    if (body.length <= SINGLE_WRITE_MAX_BYTES) ctx.res.end(body.toString('latin1'), 'latin1');
    else ctx.res.end(body);
  }

  #heldBody(): Buffer {
    const held = this.#held;
    if (held === null) return Buffer.alloc(0);
    if (held.length === 1) return held[0]!;
    const whole = Buffer.concat(held, this.#received);
    this.#held = [whole];
    return whole;
  }

  /**
   * Reads the held response for what the operation checks on it: a login's failedWhen tests (for
   * the backoff and the detectors) and the owner conditions, which replace another principal's
   * object with the 404 a missing one gets. False when the response was replaced.
   */
  #inspect(raw: Buffer): boolean {
    const ctx = this.#ctx;
    const response = this.#encoded ? undefined : parseResponse(raw);
    const note = ctx.limits;
    if (note !== null && note.loginFailedWhen !== null) {
      // A response its tests cannot read is a failure: it must never reset the backoff.
      note.loginResponseRead = true;
      note.loginResponseFailed =
        response === undefined
          ? 'the answer is not readable JSON'
          : (responseFailsLogin(note.loginFailedWhen, response)?.text ?? null);
      // Only now a success: the held response's headers are written after this.
      const device = loginDeviceCookie(note);
      if (device !== null) this.#headers!.push('set-cookie', device);
    }
    const conditions = this.#checks.ownerConditions;
    if (conditions === null || ctx.principal === null) return true;
    const unmet = unmetResponseCondition(conditions, ctx.principal, response);
    if (unmet === null) return true;
    this.#replace(new GatehouseError('GH_OBJECT_NOT_FOUND', unmet));
    return false;
  }

  /** The response will be replaced by a problem: recorded for operators, body read and dropped. */
  #replace(err: GatehouseError): void {
    this.#replacedBy = err;
    this.#ctx.journey.decidedBy = 'respond';
    (this.#ctx.journey.contract ??= []).push(`replaced: ${err.detail}`);
  }

  #startStreaming(): void {
    const ctx = this.#ctx;
    this.#streaming = true;
    ctx.responseStarted = true;
    ctx.journey.decidedBy = 'respond';
    ctx.res.writeHead(this.#status, this.#headers!, securityPreamble(ctx.id));
    ctx.res.write(this.#pending!);
    this.#pending = null;
  }

  #abortWith(err: GatehouseError): false {
    this.#abort?.(err);
    return false;
  }
}

/** Bounds on a response read for its owner or a login's outcome, as on request bodies. */
const RESPONSE_BOUNDS: JsonBounds = { maxDepth: 64, maxKeys: 100_000 };

/**
 * The response as JSON, or undefined when it is not, or is JSON that parsers read differently
 * (duplicate keys: the client's parser might take another owner than the one checked here).
 */
function parseResponse(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return parseBoundedJson(raw, RESPONSE_BOUNDS);
  } catch {
    return undefined;
  }
}

function describeRemoval(location: string): string {
  return `removed undeclared ${location}`;
}

/** RFC 9110 §8.6: no Content-Length on 1xx/204, and a HEAD answer keeps the upstream's. */
function bodyAllowed(status: number, method: string | undefined): boolean {
  return status !== 204 && status !== 304 && method !== 'HEAD';
}

/** The upstream's Connection values (all of them) when they name headers beyond keep-alive/close; null otherwise. */
function namedByConnection(rawHeaders: readonly string[]): string | null {
  let named: string | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = rawHeaders[i + 1]!;
    if (PLAIN_CONNECTION_VALUES.has(value.toLowerCase())) continue;
    named = named === null ? value : `${named}, ${value}`;
  }
  return named;
}
