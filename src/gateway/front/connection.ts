import type { TLSSocket } from 'node:tls';
import type { LimitsConfig } from '../../config/types.js';
import type { ErrorCode } from '../../errors/catalogue.js';
import { HTTPParser, PARSER_METHODS, type LlhttpParser } from '../http1/parser.js';
import { FrontRequest, type BodySource } from './request.js';
import { FrontResponse, type ResponseSink } from './response.js';

/** What a connection needs from its listener. */
export interface FrontHost {
  readonly limits: LimitsConfig;
  /** A request ready for the pipeline (the previous answer on this connection is complete). */
  request(req: FrontRequest, res: FrontResponse): void;
  /** Once per dispatched request: its response was handed over whole, or the connection was lost first. */
  closed(res: FrontResponse): void;
  /** A refusal before any request reached the pipeline: a raw problem answer, then the connection closes. */
  refuse(socket: TLSSocket, code: ErrorCode, reason: string): void;
  /** The connection is gone. */
  forget(connection: FrontConnection): void;
}

/** Header fields per request beyond which it is refused (Node's own server allows 2000). */
const MAX_HEADER_PAIRS = 2000;
/**
 * Pipelined requests held behind the one being answered. At this many the rest of what the
 * client sent is held unparsed, and reading pauses until answers have gone out.
 */
const MAX_QUEUED = 32;
/**
 * Received bytes are parsed this many at a time while requests are queued, so that a read full
 * of pipelined requests stops near MAX_QUEUED instead of being parsed whole.
 */
const PARSE_SLICE_BYTES = 1024;
/**
 * Where a slice cannot stop in time (a body streaming into the request being answered, followed
 * by a burst of requests in the same read): requests beyond this many are not read, and the
 * connection closes once the ones it holds are answered. None of them was forwarded.
 */
const MAX_HELD_REQUESTS = 128;
/**
 * Answer bytes the client has not taken yet beyond which no further request is started or read
 * (a client that pipelines and never reads must not make the gateway buffer without bound).
 */
const MAX_UNSENT_BYTES = 65_536;

/**
 * One client connection: its bytes go through llhttp (strict, as Node's server uses it), each
 * request goes to the pipeline once the previous answer is complete (pipelined ones wait, in
 * order), and the listener's sweep enforces the header, request and idle deadlines.
 */
export class FrontConnection implements ResponseSink, BodySource {
  readonly socket: TLSSocket;
  readonly #host: FrontHost;
  readonly #parser: LlhttpParser;
  /** Between the first byte of a message and its end. */
  #parsing = true;
  #headersDone = false;
  /** When the message being parsed began (the connection's start for its first one), performance clock. */
  #messageStart: number;
  #idleSince = 0;
  #fresh = true;
  /** The request whose body the parser is reading; null between messages. */
  #current: FrontRequest | null = null;
  /** Answer the pipeline is working on. */
  #inFlight: FrontResponse | null = null;
  #inFlightRequest: FrontRequest | null = null;
  readonly #queue: Array<[FrontRequest, FrontResponse]> = [];
  #pumping = false;
  /** Set when no further request is read: the connection closes once the response in hand is out. */
  #closing = false;
  /** When the connection began to close (performance clock); -1 while it is open. */
  #closingSince = -1;
  /** The listener is shutting down: the response in hand is the last on this connection. */
  #draining = false;
  /** Reading paused because pipelined requests are waiting behind the response in hand. */
  #queuePaused = false;
  #pendingRefusal: [ErrorCode, string] | null = null;
  #paused = 0;
  #partialHeaders: string[] | null = null;
  #partialUrl = '';
  #closed = false;
  /** Bytes received and not parsed yet, held while the queue is full or answers wait to be sent. */
  #unparsed: Buffer | null = null;
  /** Reading paused because received bytes are held unparsed. */
  #inputHeld = false;
  /** Waiting for the client to take the response bytes already written (MAX_UNSENT_BYTES). */
  #sendBlocked = false;
  /** Write-buffer drains seen, and when the client last took any (the send deadline). */
  #drains = 0;
  #drainsSeen = 0;
  #stalledSince = -1;

  constructor(socket: TLSSocket, host: FrontHost) {
    this.socket = socket;
    this.#host = host;
    this.#messageStart = performance.now();
    this.#parser = createParser(host.limits.maxHeaderBytes, this);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#onClose());
  }

  /** Checks this connection's deadlines (the listener calls it a few times a second). */
  checkDeadlines(now: number): void {
    if (this.#closed) return;
    const limits = this.#host.limits;
    if (this.#stalled(now) > limits.requestTimeoutMs) {
      // Answers wait to be sent and the client has taken none of them for that long.
      this.socket.destroy();
      return;
    }
    if (this.#closingSince >= 0) {
      if (now - this.#closingSince > limits.idleTimeoutMs) this.socket.destroy();
      return;
    }
    if (this.#parsing) {
      if (this.#paused > 0) {
        // The gateway holds reading back (a response before this request is still going out, or
        // body bytes wait unread): the client is not the one late, and its clock starts over.
        this.#messageStart = now;
        return;
      }
      const allowed = this.#headersDone ? limits.requestTimeoutMs : limits.headersTimeoutMs;
      if (now - this.#messageStart > allowed)
        this.#refuse('GH_TRANSPORT_TIMEOUT', 'request not received within the time allowed');
      return;
    }
    if (this.#inFlight === null && now - this.#idleSince > limits.idleTimeoutMs) this.socket.destroy();
  }

  /**
   * Shutdown: an idle connection closes now; a busy one (a request being answered or still
   * arriving, body included) closes after its response, which says so.
   */
  closeWhenIdle(): void {
    if (this.#closed) return;
    if (this.#inFlight === null && !(this.#parsing && !this.#fresh)) {
      this.socket.destroy();
      return;
    }
    this.#draining = true;
  }

  // ResponseSink

  keepAliveAllowed(): boolean {
    const req = this.#inFlightRequest;
    // A body not read to its end would be taken for the next request: such a response closes.
    const bodyDone = req === null || req.complete || !req.hasBody;
    if (!bodyDone || this.#draining || this.#pendingRefusal !== null) return false;
    // Reading has stopped, but requests read before that are still to be answered on it.
    return !this.#closing || this.#queue.length > 0;
  }

  responseSent(res: FrontResponse, keepAlive: boolean): void {
    if (res !== this.#inFlight) return;
    const req = this.#inFlightRequest!;
    this.#inFlight = null;
    this.#inFlightRequest = null;
    this.#host.closed(res);
    if (!keepAlive || this.#closing || this.#draining || (!req.complete && req.hasBody)) {
      // Unread body bytes could be taken for the next request: nothing more is read.
      this.#stopReading();
      req.stopReading();
      if (!keepAlive) this.#queue.length = 0;
    }
    if (!this.#parsing) this.#idleSince = performance.now();
    if (this.#waitForClient()) return;
    this.#proceed();
  }

  /** Next steps once a response is out and the client takes what was sent: the next request, or more input. */
  #proceed(): void {
    this.#pump();
    if (this.#closing) {
      if (this.#inFlight === null) this.#endConnection();
      return;
    }
    if (this.#queue.length === 0 && this.#queuePaused) {
      this.#queuePaused = false;
      this.resumeReading();
    }
    // Parsed outside the response's call stack, as data arriving from the socket would be.
    if (this.#unparsed !== null) setImmediate(() => this.#releaseInput());
  }

  /**
   * True (and reading paused until the client catches up) when the responses written and not yet
   * taken by the client exceed MAX_UNSENT_BYTES.
   */
  #waitForClient(): boolean {
    if (this.#sendBlocked) return true;
    if (this.socket.writableLength <= MAX_UNSENT_BYTES) return false;
    this.#sendBlocked = true;
    this.pauseReading();
    return true;
  }

  #onDrain(): void {
    this.#drains += 1;
    if (!this.#sendBlocked || this.#closed) return;
    this.#sendBlocked = false;
    this.resumeReading();
    if (this.#inFlight === null) this.#proceed();
  }

  /** How long response bytes have waited with the client taking none (0 when it keeps up). */
  #stalled(now: number): number {
    if (!this.socket.writableNeedDrain || this.#drains !== this.#drainsSeen) {
      this.#drainsSeen = this.#drains;
      this.#stalledSince = -1;
      return 0;
    }
    if (this.#stalledSince < 0) this.#stalledSince = now;
    return now - this.#stalledSince;
  }

  // BodySource

  pauseReading(): void {
    this.#paused += 1;
    if (this.#paused === 1) this.socket.pause();
  }

  resumeReading(): void {
    if (this.#paused === 0) return;
    this.#paused -= 1;
    if (this.#paused === 0 && !this.#closing) this.socket.resume();
  }

  continueBody(): void {
    if (!this.socket.destroyed && this.socket.writable)
      this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
  }

  // Parser callbacks

  messageBegin(): void {
    this.#parsing = true;
    this.#headersDone = false;
    if (this.#fresh) this.#fresh = false;
    else this.#messageStart = performance.now();
  }

  partialHeaders(fields: string[], url: string): void {
    const held = (this.#partialHeaders ??= []);
    for (let i = 0; i < fields.length; i += 1) held.push(fields[i]!);
    this.#partialUrl += url;
  }

  headersComplete(
    major: number,
    minor: number,
    fields: string[] | undefined,
    method: number,
    url: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): void {
    this.#headersDone = true;
    let raw = fields;
    if (this.#partialHeaders !== null) {
      raw = this.#partialHeaders;
      if (fields !== undefined) for (const field of fields) raw.push(field);
      this.#partialHeaders = null;
    }
    raw ??= [];
    const target = this.#partialUrl + (url ?? '');
    this.#partialUrl = '';
    if (major !== 1) return this.#refuse('GH_TRANSPORT_BAD_REQUEST', `HTTP/${major}.${minor} request`);
    if (raw.length > MAX_HEADER_PAIRS * 2)
      return this.#refuse('GH_TRANSPORT_HEADERS_TOO_LARGE', `over ${MAX_HEADER_PAIRS} header fields`);
    const framing = scanFraming(raw);
    if (minor === 1 && (framing & HAS_HOST) === 0)
      return this.#refuse('GH_TRANSPORT_BAD_REQUEST', 'no Host header');
    // RFC 9112 §6.1: HTTP/1.0 has no chunked coding; such a message's framing is faulty.
    if (minor === 0 && (framing & HAS_TRANSFER_ENCODING) !== 0)
      return this.#refuse('GH_TRANSPORT_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request');
    // RFC 9110 §10.1.1: an expectation the server cannot meet may be answered 417.
    if ((framing & UNMET_EXPECTATION) !== 0)
      return this.#refuse('GH_TRANSPORT_EXPECTATION_FAILED', 'Expect other than 100-continue');
    if (this.#closing) return; // parsed after reading stopped, in the same read: not taken
    if (this.#queue.length >= MAX_HELD_REQUESTS) {
      // Never forwarded: the client learns from the close that it must send them again.
      this.#stopReading();
      return;
    }
    const name = PARSER_METHODS[method] ?? '';
    const hasBody = (framing & HAS_BODY) !== 0;
    const req = new FrontRequest(name, target, raw, minor, hasBody, this.socket, this);
    const res = new FrontResponse(this, name, minor);
    // The client asked to close after this response; llhttp refuses anything it sends after it.
    if (!keepAlive) res.shouldKeepAlive = false;
    this.#current = req;
    if (upgrade) {
      // No protocol switch is offered: the request is taken as it stands, with no body, and
      // whatever follows it on the connection is not read.
      this.messageComplete();
      this.#stopReading();
    }
    if (this.#inFlight === null && this.#queue.length === 0) {
      this.#dispatch(req, res);
      return;
    }
    this.#queue.push([req, res]);
    if (this.#inFlight !== null && !this.#queuePaused) {
      this.#queuePaused = true;
      this.pauseReading();
    }
    this.#pump();
  }

  body(chunk: Buffer): void {
    this.#current?.pushBody(chunk);
  }

  messageComplete(): void {
    const req = this.#current;
    this.#current = null;
    this.#parsing = false;
    this.#headersDone = false;
    if (this.#inFlight === null && this.#queue.length === 0) this.#idleSince = performance.now();
    req?.endBody();
  }

  #onData(data: Buffer): void {
    if (this.#closing) return;
    if (this.#unparsed !== null) {
      // Bytes already in the socket when reading paused: behind the ones held.
      this.#unparsed = Buffer.concat([this.#unparsed, data]);
      return;
    }
    this.#parse(data);
  }

  /**
   * Parses what the client sent in slices (a small request is one), stopping where the queue is
   * full or the client is not taking its responses: the rest is held, reading pauses, and parsing
   * resumes as answers go out. The body of the request being answered is not sliced.
   */
  #parse(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && !this.#closing) {
      if (this.#queue.length >= MAX_QUEUED || this.#sendBlocked) {
        this.#unparsed = offset === 0 ? data : data.subarray(offset);
        if (!this.#inputHeld) {
          this.#inputHeld = true;
          this.pauseReading();
        }
        return;
      }
      // The body of the request being answered streams on in one go; anything else is sliced.
      const body = this.#current !== null && this.#current === this.#inFlightRequest;
      const end = body ? data.length : Math.min(data.length, offset + PARSE_SLICE_BYTES);
      if (!this.#execute(offset === 0 && end === data.length ? data : data.subarray(offset, end))) return;
      offset = end;
    }
  }

  /** Parses the held bytes once the queue has room and the client takes its responses. */
  #releaseInput(): void {
    const held = this.#unparsed;
    if (held === null || this.#closed || this.#closing) return;
    if (this.#queue.length >= MAX_QUEUED || this.#sendBlocked) return;
    this.#unparsed = null;
    this.#parse(held);
    if (this.#unparsed === null && this.#inputHeld) {
      this.#inputHeld = false;
      this.resumeReading();
    }
  }

  /** One call into llhttp; false when it refused the bytes (the refusal is under way). */
  #execute(chunk: Buffer): boolean {
    const result = this.#parser.execute(chunk);
    if (typeof result === 'number') return true;
    const err = result;
    // Bytes after a request that asked to close: not read, not answered.
    if (err.code === 'HPE_CLOSED_CONNECTION') this.#stopReading();
    else if (err.code === 'HPE_HEADER_OVERFLOW')
      this.#refuse('GH_TRANSPORT_HEADERS_TOO_LARGE', 'request headers over maxHeaderBytes');
    else this.#refuse('GH_TRANSPORT_BAD_REQUEST', `HTTP parse error ${err.code ?? ''}`.trim());
    return false;
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    while (
      this.#inFlight === null &&
      this.#queue.length > 0 &&
      !this.#sendBlocked &&
      !this.socket.destroyed
    ) {
      const [req, res] = this.#queue.shift()!;
      this.#dispatch(req, res);
    }
    this.#pumping = false;
  }

  #dispatch(req: FrontRequest, res: FrontResponse): void {
    this.#inFlight = res;
    this.#inFlightRequest = req;
    this.#host.request(req, res);
  }

  /** Refuses at the transport: now when nothing is being answered, else after the responses in hand. */
  #refuse(code: ErrorCode, reason: string): void {
    this.#stopReading();
    this.#parsing = false;
    const current = this.#current;
    this.#current = null;
    if (current !== null) {
      if (current === this.#inFlightRequest) {
        // The pipeline holds this request and waits for its body: it answers the refusal itself.
        current.abortBody(code === 'GH_TRANSPORT_TIMEOUT');
        return;
      }
      const at = this.#queue.findIndex(([queued]) => queued === current);
      if (at >= 0) this.#queue.splice(at, 1);
    }
    if (this.#inFlight === null && this.#queue.length === 0) this.#refuseNow(code, reason);
    else this.#pendingRefusal ??= [code, reason];
  }

  #refuseNow(code: ErrorCode, reason: string): void {
    this.#pendingRefusal = null;
    this.#closingSince = performance.now();
    this.#host.refuse(this.socket, code, reason);
  }

  #stopReading(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.socket.pause();
  }

  #endConnection(): void {
    if (this.#closingSince >= 0) return;
    this.#closingSince = performance.now();
    if (this.#pendingRefusal !== null) this.#refuseNow(...this.#pendingRefusal);
    else this.socket.end();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#parser.close();
    this.#current?.abortBody();
    this.#current = null;
    const res = this.#inFlight;
    const req = this.#inFlightRequest;
    this.#inFlight = null;
    this.#inFlightRequest = null;
    this.#queue.length = 0;
    if (res !== null) {
      req!.abortBody();
      this.#host.closed(res);
    }
    this.#host.forget(this);
  }
}

const HAS_HOST = 1;
const HAS_BODY = 2;
/** An Expect field asks for something other than 100-continue, which is all the gateway offers. */
const UNMET_EXPECTATION = 4;
const HAS_TRANSFER_ENCODING = 8;

/**
 * Whether the request names its Host, whether a body follows its headers (RFC 9112 §6.3), and
 * whether it expects what the gateway cannot give.
 */
function scanFraming(raw: readonly string[]): number {
  let found = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4) {
      if (name.toLowerCase() === 'host') found |= HAS_HOST;
    } else if (name.length === 14) {
      if (name.toLowerCase() === 'content-length' && raw[i + 1] !== '0') found |= HAS_BODY;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding')
      found |= HAS_BODY | HAS_TRANSFER_ENCODING;
    else if (name.length === 6 && name.toLowerCase() === 'expect') {
      if (raw[i + 1]!.trim().toLowerCase() !== '100-continue') found |= UNMET_EXPECTATION;
    }
  }
  return found;
}

function createParser(maxHeaderBytes: number, connection: FrontConnection): LlhttpParser {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, maxHeaderBytes, HTTPParser.kLenientNone);
  parser[HTTPParser.kOnMessageBegin] = () => connection.messageBegin();
  parser[HTTPParser.kOnHeaders] = (fields: string[], url: string) => connection.partialHeaders(fields, url);
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    fields: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: unknown,
    _statusText: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => connection.headersComplete(major, minor, fields, method, url, upgrade, keepAlive);
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => connection.body(chunk);
  parser[HTTPParser.kOnMessageComplete] = () => connection.messageComplete();
  return parser;
}
