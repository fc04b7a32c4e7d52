import type { TLSSocket } from 'node:tls';

/** Header names a request may carry once: a repeat is dropped, as Node's own server does. */
const SINGLE_VALUED = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Request headers by lower-case name; repeated ones joined as RFC 9110 §5.3 allows. */
export type RequestHeaders = Readonly<Record<string, string | undefined>>;

/** What reads a request body: chunks as they arrive, then the end or the connection's loss. */
export interface BodySink {
  onData(chunk: Buffer): void;
  onEnd(): void;
  /** The body will not come: the connection was lost, or (timedOut) the client was too slow. */
  onAbort(timedOut: boolean): void;
}

/** What a request needs from its connection while its body is read. */
export interface BodySource {
  pauseReading(): void;
  resumeReading(): void;
  /** Sends `100 Continue` to a client waiting for one before it sends its body. */
  continueBody(): void;
}

/** Body bytes held for a stage that has not asked for them yet; beyond this, reading pauses. */
const HELD_BODY_BYTES = 65_536;

/**
 * One request as the listener parsed it: request line, headers as received, and the body as a
 * push source that holds what arrives before a stage reads it.
 */
export class FrontRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly socket: TLSSocket;
  readonly httpVersionMinor: number;
  /** Whether a body follows the headers (a Content-Length above 0, or Transfer-Encoding). */
  readonly hasBody: boolean;
  /** Set once the whole message, body included, has been received. */
  complete = false;
  /** Body bytes received so far. */
  bodyBytes = 0;
  #headers: RequestHeaders | null = null;
  readonly #source: BodySource;
  #sink: BodySink | null = null;
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  #aborted = false;
  #timedOut = false;
  #pausedSource = false;
  #receivedBody = false;

  constructor(
    method: string,
    url: string,
    rawHeaders: readonly string[],
    httpVersionMinor: number,
    hasBody: boolean,
    socket: TLSSocket,
    source: BodySource,
  ) {
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.httpVersionMinor = httpVersionMinor;
    this.hasBody = hasBody;
    this.socket = socket;
    this.#source = source;
  }

  /** Built on first use; a null-prototype object, so no header name can reach Object.prototype. */
  get headers(): RequestHeaders {
    return (this.#headers ??= headerRecord(this.rawHeaders));
  }

  /**
   * One header's value by lower-case name, as `headers` would give it, without building the
   * record when the name appears at most once (the common case on the hot path).
   */
  header(name: string): string | undefined {
    if (this.#headers !== null) return this.#headers[name];
    const raw = this.rawHeaders;
    let found: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const candidate = raw[i]!;
      if (candidate.length !== name.length || (candidate !== name && candidate.toLowerCase() !== name))
        continue;
      if (found !== undefined) return this.headers[name];
      found = raw[i + 1];
    }
    return found;
  }

  /** Starts reading the body: held chunks first, then the rest as it arrives. Once per request. */
  readBody(sink: BodySink): void {
    this.#sink = sink;
    if (this.#aborted) {
      sink.onAbort(this.#timedOut);
      return;
    }
    const held = this.#held;
    this.#held = null;
    this.#heldBytes = 0;
    if (held !== null) for (const chunk of held) sink.onData(chunk);
    if (this.complete) {
      sink.onEnd();
      return;
    }
    if (this.#pausedSource) {
      this.#pausedSource = false;
      this.#source.resumeReading();
    }
    if (
      !this.#receivedBody &&
      this.httpVersionMinor === 1 &&
      this.header('expect')?.toLowerCase() === '100-continue'
    )
      this.#source.continueBody();
  }

  /** Stops delivering body chunks (the reader gave up); the connection will close after the response. */
  stopReading(): void {
    this.#sink = null;
  }

  /** Connection side: a body chunk. */
  pushBody(chunk: Buffer): void {
    this.#receivedBody = true;
    this.bodyBytes += chunk.length;
    if (this.#sink !== null) {
      this.#sink.onData(chunk);
      return;
    }
    if (this.#aborted) return;
    (this.#held ??= []).push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > HELD_BODY_BYTES && !this.#pausedSource) {
      this.#pausedSource = true;
      this.#source.pauseReading();
    }
  }

  /** Connection side: the message is complete. */
  endBody(): void {
    this.complete = true;
    this.#sink?.onEnd();
  }

  /** Connection side: the connection was lost before the message was complete. */
  abortBody(timedOut = false): void {
    if (this.complete || this.#aborted) return;
    this.#aborted = true;
    this.#timedOut = timedOut;
    this.#held = null;
    this.#sink?.onAbort(timedOut);
  }
}

function headerRecord(raw: readonly string[]): RequestHeaders {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (SINGLE_VALUED.has(name)) continue;
    else out[name] = name === 'cookie' ? `${seen}; ${value}` : `${seen}, ${value}`;
  }
  return out;
}
