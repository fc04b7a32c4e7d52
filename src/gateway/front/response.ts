import { STATUS_CODES } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** What a response needs from its connection. */
export interface ResponseSink {
  readonly socket: TLSSocket;
  /** Whether the connection may stay open after this response (client's wish, shutdown, errors). */
  keepAliveAllowed(): boolean;
  /** The response was handed to the socket whole. */
  responseSent(res: FrontResponse, keepAlive: boolean): void;
}

/** RFC 9110 §5.6.2 token: a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value may not split the message: no CR, LF or NUL, nothing beyond one byte. */
const UNSAFE_FIELD_VALUE = /[\0\r\n\u0100-\uffff]/;

/** Status lines by code, built on first use. */
const statusLines: string[] = [];

function statusLine(status: number): string {
  return (statusLines[status] ??= `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`);
}

let dateSecond = -1;
let dateValue = '';

/** RFC 9110 §6.6.1: an origin with a clock sends Date; the string changes once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** Whatever handles a request, told once its response is done: sent whole, or cut off. */
export interface ResponseHandler {
  responseDone(): void;
}

/**
 * One response on a front connection: the head is built by writeHead and sent with the first body
 * bytes (or with end), so a small response leaves in one write. Framing is the gateway's: a stated
 * Content-Length, else chunked (HTTP/1.1) or the end of the connection (HTTP/1.0); no body for
 * HEAD, 1xx, 204 or 304.
 */
export class FrontResponse {
  statusCode = 200;
  /** The head has been handed to the socket: the response has started. */
  started = false;
  /** The whole response has been handed to the socket. */
  sent = false;
  /** Cleared by a stage that wants the connection closed after this response. */
  shouldKeepAlive = true;
  /** Bytes handed to the socket: head and body, chunk framing left out. */
  bytesSent = 0;
  /** What handles the request (the gateway's request context); set when the request is handed on. */
  handler: ResponseHandler | null = null;
  readonly #sink: ResponseSink;
  readonly #headOnly: boolean;
  readonly #http10: boolean;
  #head: string | null = null;
  #chunked = false;
  #noBody = false;
  #keepAlive = true;

  constructor(sink: ResponseSink, method: string, httpVersionMinor: number) {
    this.#sink = sink;
    this.#headOnly = method === 'HEAD';
    this.#http10 = httpVersionMinor === 0;
  }

  get destroyed(): boolean {
    return this.#sink.socket.destroyed;
  }

  /**
   * Status and name/value pairs; sent with the first body bytes or by end(). `preamble` is
   * header-section text the caller vouches for (CRLF-terminated lines built from constants).
   */
  writeHead(status: number, headers: readonly string[], preamble = ''): void {
    if (this.#head !== null || this.sent) return;
    this.statusCode = status;
    this.#noBody = this.#headOnly || status < 200 || status === 204 || status === 304;
    let head = statusLine(status) + preamble;
    let hasLength = false;
    let hasDate = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // Every value is built by the gateway or came through the strict parser; one that could
      // split the response is a defect, and is left out rather than sent.
      if (!TOKEN.test(name) || UNSAFE_FIELD_VALUE.test(value)) continue;
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      else if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!hasDate) head += `date: ${httpDate()}\r\n`;
    let keepAlive = this.shouldKeepAlive && this.#sink.keepAliveAllowed();
    if (!this.#noBody && !hasLength) {
      if (this.#http10) keepAlive = false;
      else {
        this.#chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      }
    }
    if (!keepAlive) head += 'connection: close\r\n';
    else if (this.#http10) head += 'connection: keep-alive\r\n';
    this.#keepAlive = keepAlive;
    this.#head = head + '\r\n';
  }

  /** A body chunk; false when the socket's buffer is full (wait for onDrain). */
  write(chunk: Buffer): boolean {
    if (this.sent || this.destroyed) return false;
    if (this.#head === null) this.writeHead(this.statusCode, []);
    const socket = this.#sink.socket;
    const head = this.#takeHead();
    if (this.#noBody || chunk.length === 0) {
      if (head !== '') socket.write(head, 'latin1');
      return !socket.writableNeedDrain;
    }
    this.bytesSent += chunk.length;
    socket.cork();
    if (this.#chunked) socket.write(`${head}${chunk.length.toString(16)}\r\n`, 'latin1');
    else if (head !== '') socket.write(head, 'latin1');
    socket.write(chunk);
    if (this.#chunked) socket.write('\r\n', 'latin1');
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  /** Completes the response; `body` is a last chunk (a latin1 string is sent byte for byte). */
  end(body?: string | Buffer, encoding?: 'latin1'): void {
    if (this.sent || this.destroyed) return;
    if (this.#head === null) this.writeHead(this.statusCode, []);
    const socket = this.#sink.socket;
    const head = this.#takeHead();
    const size =
      body === undefined || this.#noBody ? 0 : typeof body === 'string' ? body.length : body.length;
    this.bytesSent += size;
    if (size === 0) {
      const out = this.#chunked ? head + '0\r\n\r\n' : head;
      if (out !== '') socket.write(out, 'latin1');
    } else if (typeof body === 'string' && encoding === 'latin1' && !this.#chunked) {
      socket.write(head + body, 'latin1');
    } else {
      const bytes = typeof body === 'string' ? Buffer.from(body, encoding ?? 'utf8') : body!;
      socket.cork();
      if (this.#chunked) socket.write(`${head}${bytes.length.toString(16)}\r\n`, 'latin1');
      else if (head !== '') socket.write(head, 'latin1');
      socket.write(bytes);
      if (this.#chunked) socket.write('\r\n0\r\n\r\n', 'latin1');
      socket.uncork();
    }
    this.sent = true;
    this.#sink.responseSent(this, this.#keepAlive);
  }

  /** Runs `callback` once the socket can take more. */
  onDrain(callback: () => void): void {
    this.#sink.socket.once('drain', callback);
  }

  /** Cuts the connection: the honest end of a response that cannot be completed. */
  destroy(): void {
    this.#sink.socket.destroy();
  }

  #takeHead(): string {
    const head = this.#head!;
    if (head !== '') {
      this.bytesSent += head.length;
      this.#head = '';
      this.started = true;
    }
    return head;
  }
}
