import { connect as connectPlain, type Socket } from 'node:net';
import { connect, type SecureContext } from 'node:tls';
import type { Exchange, ExchangeHost } from './exchange.js';
import { HTTPParser, type ParseError, type LlhttpParser } from '../http1/parser.js';
import { describeError, UpstreamError } from './upstream-error.js';

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** A Unix socket to connect to instead of host:port (a service on the same host), else null. */
  readonly socketPath: string | null;
  /** Host header value: the upstream URL's host[:port]. */
  readonly authority: string;
  /** null for a plain http:// upstream, which configuration allows on loopback or a Unix socket only. */
  readonly secureContext: SecureContext | null;
  /** SNI and the name the certificate must carry; null: the host itself (an IP is checked as such). */
  readonly servername: string | null;
  readonly connectTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/**
 * A connection to the upstream and the event that says it can carry a request. TLS: its trust,
 * the gateway's client certificate, HTTP/1.1 by ALPN. Plain: only to a sidecar on the same host.
 */
export function connectUpstream(options: ConnectionOptions): { socket: Socket; ready: string } {
  const where =
    options.socketPath === null ? { host: options.host, port: options.port } : { path: options.socketPath };
  if (options.secureContext === null) return { socket: connectPlain(where), ready: 'connect' };
  const socket = connect({
    ...where,
    secureContext: options.secureContext,
    rejectUnauthorized: true,
    ALPNProtocols: ['http/1.1'],
    ...(options.servername === null ? {} : { servername: options.servername }),
  });
  return { socket, ready: 'secureConnect' };
}

export interface ConnectionOwner {
  /** The connection finished an exchange and may carry another. */
  release(connection: UpstreamConnection): void;
  /** The connection is gone; `exchange` (if any) was not answered and may be sent again. */
  closed(connection: UpstreamConnection, retry: Exchange | null): void;
}

/** A bodiless request of these methods still states its (zero) length: RFC 9110 §8.6. */
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
/**
 * Field values the gateway forwards must never carry a line break or NUL (RFC 9110 §5.5), nor a
 * character above U+00FF: the head is written as latin1, which keeps only the low byte, so
 * U+010A would reach the upstream as a line feed.
 */
const UNSAFE_FIELD_VALUE = /[\0\r\n\u0100-\uffff]/;
/** Request heads and bodies up to this size go out as one write: one TLS record, one system call. */
const SINGLE_WRITE_MAX_BYTES = 16_384;

/**
 * One kept-alive TLS connection to an upstream, carrying one exchange at a time (HTTP/1.1, no
 * pipelining). Answers are parsed by llhttp in strict mode; anything the upstream sends that is
 * not the response to the current request closes the connection.
 */
export class UpstreamConnection implements ExchangeHost {
  readonly #socket: Socket;
  readonly #parser: LlhttpParser;
  readonly #owner: ConnectionOwner;
  readonly #authority: string;
  #exchange: Exchange | null = null;
  /** Headers llhttp handed over early (more than 32 fields), joined at headers-complete. */
  #partialHeaders: string[] | null = null;
  #informational = false;
  #keepAlive = false;
  /** The whole response is in: set by message-complete, acted on once llhttp has returned (never from inside a callback). */
  #responseReceived = false;
  #connectTimer: NodeJS.Timeout | null;
  #closeReason: UpstreamError | null = null;
  #closed = false;
  #reused = false;
  idleSince = 0;

  constructor(options: ConnectionOptions, owner: ConnectionOwner) {
    this.#owner = owner;
    this.#authority = options.authority;
    this.#parser = createParser(options.maxHeaderBytes, this);
    const { socket, ready } = connectUpstream(options);
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => {
      this.destroy(
        new UpstreamError(
          'UPSTREAM_CONNECT_TIMEOUT',
          `no ${options.secureContext === null ? '' : 'TLS '}connection within ${options.connectTimeoutMs} ms`,
        ),
      );
    }, options.connectTimeoutMs);
    socket.once(ready, () => this.#clearConnectTimer());
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err: Error) => this.#noteCloseReason(err));
    socket.on('close', () => this.#onClose());
  }

  /** The exchange this connection carries now, if any. */
  get exchange(): Exchange | null {
    return this.#exchange;
  }

  get isClosed(): boolean {
    return this.#closed || this.#socket.destroyed;
  }

  /** Writes the request; the response arrives through the parser callbacks. */
  send(exchange: Exchange): void {
    const head = requestHead(exchange, this.#authority);
    if (head === null) {
      const refused = new UpstreamError(
        'UPSTREAM_BAD_REQUEST',
        'a forwarded header value holds a line break or NUL',
      );
      queueMicrotask(() => exchange.fail(refused));
      this.#owner.release(this);
      return;
    }
    this.#exchange = exchange;
    exchange.host = this;
    const body = exchange.request.body;
    const socket = this.#socket;
    if (body === null || body.length === 0) socket.write(head, 'latin1');
    else if (head.length + body.length <= SINGLE_WRITE_MAX_BYTES)
      socket.write(head + body.toString('latin1'), 'latin1');
    else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
    }
  }

  /** ExchangeHost: the exchange was aborted mid-flight; its response would be unreadable now. */
  abandon(exchange: Exchange): void {
    if (this.#exchange === exchange) this.destroy(null);
  }

  /** Closes the connection; its current exchange (if any) fails with `reason`. */
  destroy(reason: Error | null): void {
    if (reason !== null) this.#noteCloseReason(reason);
    this.#socket.destroy();
  }

  // llhttp callbacks (createParser).

  headersComplete(
    status: number,
    fields: string[] | undefined,
    keepAlive: boolean,
    upgrade: boolean,
  ): number {
    const exchange = this.#exchange;
    let headers = fields ?? [];
    if (this.#partialHeaders !== null) headers = this.#partialHeaders.concat(headers);
    this.#partialHeaders = null;
    // Not the response to the open request (a second answer after it, or a switch of protocol):
    // -1 stops llhttp here, so no message-complete can settle the exchange as a success.
    if (exchange === null || this.#responseReceived || upgrade || status === 101) {
      this.destroy(new UpstreamError('UPSTREAM_BAD_RESPONSE', `unexpected answer (status ${status})`));
      return -1;
    }
    exchange.responseStarted = true;
    // RFC 9110 §15.2: interim answers (103 Early Hints, …) are read past; the final one counts.
    this.#informational = status < 200;
    if (this.#informational) return 0;
    this.#keepAlive = keepAlive;
    exchange.progress();
    if (!exchange.handler.onHeaders(status, headers, exchange.resume) && !exchange.settled)
      this.#socket.pause();
    return exchange.skipsBody ? 1 : 0;
  }

  partialHeaders(fields: string[]): void {
    // After headers-complete these are trailers (RFC 9110 §6.5), which are not forwarded.
    if (this.#exchange !== null && !this.#exchange.responseStarted)
      this.#partialHeaders = (this.#partialHeaders ?? []).concat(fields);
  }

  body(chunk: Buffer): void {
    const exchange = this.#exchange;
    if (exchange === null || exchange.settled || this.#informational) return;
    exchange.progress();
    if (!exchange.handler.onData(chunk) && !exchange.settled) this.#socket.pause();
  }

  messageComplete(): void {
    if (this.#informational) {
      this.#informational = false;
      if (this.#exchange !== null) this.#exchange.responseStarted = false;
      return;
    }
    this.#responseReceived = true;
  }

  /** ExchangeHost: a late resume from an exchange this connection no longer carries does nothing. */
  resume(exchange: Exchange): void {
    if (this.#exchange === exchange) this.#socket.resume();
  }

  /** A new message starts: anything but the response to the open request closes the connection. */
  messageBegin(): void {
    if (this.#exchange === null || this.#responseReceived) {
      this.destroy(new UpstreamError('UPSTREAM_BAD_RESPONSE', 'the upstream sent more than the answer'));
    }
  }

  #onData(data: Buffer): void {
    if (this.#exchange === null) {
      this.destroy(new UpstreamError('UPSTREAM_BAD_RESPONSE', 'data from the upstream with no request open'));
      return;
    }
    const result = this.#parser.execute(data);
    // Bytes after a complete answer belong to no request: they close the connection, but the
    // answer itself stands (the connection is closed first, so it is not reused).
    if (typeof result !== 'number') this.destroy(parseFailure(result));
    if (this.#responseReceived) this.#finishExchange();
  }

  #finishExchange(): void {
    this.#responseReceived = false;
    const exchange = this.#exchange!;
    this.#exchange = null;
    exchange.host = null;
    // Reused only when the response ended cleanly, the upstream keeps the connection open and
    // nothing of the request is still waiting to be written.
    const reusable = this.#keepAlive && !this.isClosed && this.#socket.writableLength === 0;
    if (!reusable) this.destroy(null);
    exchange.complete();
    if (reusable) {
      // The handler's back-pressure ended with its exchange; paused, the idle connection would
      // hear neither the upstream closing it nor the next response.
      this.#socket.resume();
      this.#reused = true;
      this.#owner.release(this);
    }
  }

  #onEnd(): void {
    if (this.#exchange !== null) {
      // A response delimited by the end of the connection (RFC 9112 §6.3 item 8) ends here.
      const result = this.#parser.finish();
      if (result instanceof Error) this.#noteCloseReason(parseFailure(result));
      else if (this.#responseReceived) this.#finishExchange();
    }
    this.#socket.destroy();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearConnectTimer();
    this.#parser.close();
    const exchange = this.#exchange;
    this.#exchange = null;
    let retry: Exchange | null = null;
    if (exchange !== null && !exchange.settled) {
      exchange.host = null;
      const reason = this.#closeReason;
      // A kept-alive connection the upstream closed just as a request went out: a safe request
      // that heard nothing may go again on a fresh connection (RFC 9110 §9.2.2).
      if (this.#reused && exchange.retriable && (reason === null || reason.code === 'UPSTREAM_CLOSED'))
        retry = exchange;
      else
        exchange.fail(
          reason ??
            new UpstreamError('UPSTREAM_CLOSED', 'the upstream closed the connection before answering'),
        );
    }
    this.#owner.closed(this, retry);
  }

  #noteCloseReason(err: Error): void {
    if (this.#closeReason !== null) return;
    if (err instanceof UpstreamError) this.#closeReason = err;
    else if (this.#connectTimer !== null)
      this.#closeReason = new UpstreamError('UPSTREAM_CONNECT_FAILED', describeError(err), { cause: err });
    else this.#closeReason = new UpstreamError('UPSTREAM_CLOSED', describeError(err), { cause: err });
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }
}

function createParser(maxHeaderBytes: number, connection: UpstreamConnection): LlhttpParser {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, maxHeaderBytes, HTTPParser.kLenientNone);
  parser[HTTPParser.kOnMessageBegin] = () => connection.messageBegin();
  parser[HTTPParser.kOnHeaders] = (fields: string[]) => connection.partialHeaders(fields);
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    fields: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    _statusText: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => connection.headersComplete(status, fields, keepAlive, upgrade);
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => connection.body(chunk);
  parser[HTTPParser.kOnMessageComplete] = () => connection.messageComplete();
  return parser;
}

/** Request line and header section, or null when a value could split the message. */
function requestHead(exchange: Exchange, authority: string): string | null {
  const { method, path, headers, body } = exchange.request;
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const value = headers[i + 1]!;
    if (UNSAFE_FIELD_VALUE.test(value)) return null;
    head += `${headers[i]!}: ${value}\r\n`;
  }
  if (body !== null) head += `content-length: ${body.length}\r\n`;
  else if (METHODS_WITH_BODY.has(method)) head += 'content-length: 0\r\n';
  return head + '\r\n';
}

function parseFailure(err: ParseError): UpstreamError {
  return new UpstreamError(
    'UPSTREAM_BAD_RESPONSE',
    `unparseable answer: ${err.code ?? 'parse error'} ${err.reason ?? ''}`.trim(),
  );
}
