import type { SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { UpstreamConnection, type ConnectionOptions, type ConnectionOwner } from './connection.js';
import { Exchange, responseTimeout } from './exchange.js';
import { probeConnection } from './probe.js';
import type { PoolStats, UpstreamDispatcher, UpstreamHandler, UpstreamRequest } from './types.js';

export interface UpstreamPoolOptions {
  /** https: origin of the upstream, or http: for a sidecar on loopback or a Unix socket. */
  readonly origin: URL;
  /** Required for https:, null for http:. */
  readonly secureContext: SecureContext | null;
  /** Connect to this Unix socket instead of the origin's host and port; the origin names the Host. */
  readonly socketPath?: string | null;
  /** Name the upstream certificate must carry (and SNI); null: the URL's host. */
  readonly servername: string | null;
  /** Most connections open at once; requests beyond them wait in order. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /**
   * From the moment a request is handed over until its response is complete, refreshed while it
   * streams; enforced by a sweep every tenth of it (10 ms to 1 s), so an exchange fails at most
   * that much later.
   */
  readonly responseTimeoutMs: number;
  /** An idle connection is closed after this long (below the usual 5 s of upstream servers). */
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/**
 * Kept-alive TLS connections to one upstream, most recently used first. A request takes an
 * idle connection, or opens one while under the limit, or waits its turn; its response timeout
 * runs from the hand-over, so time spent waiting counts against it too.
 */
export class UpstreamPool implements UpstreamDispatcher, ConnectionOwner {
  readonly #options: UpstreamPoolOptions;
  readonly #connection: ConnectionOptions;
  readonly #idle: UpstreamConnection[] = [];
  readonly #open = new Set<UpstreamConnection>();
  #waiting: Exchange[] = [];
  #closing = false;
  #onDrained: (() => void) | null = null;
  #closed: Promise<void> | null = null;
  readonly #sweeper: NodeJS.Timeout;
  /** The response timeouts' sweep: runs while the pool is open, and after close while any connection is. */
  #deadlines: NodeJS.Timeout | null = null;
  readonly #tick: number;

  constructor(options: UpstreamPoolOptions) {
    const tls = options.origin.protocol === 'https:';
    if (tls !== (options.secureContext !== null)) {
      throw new TypeError('an https: upstream needs a TLS context, an http: one none');
    }
    this.#options = options;
    const host = options.origin.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#connection = {
      host,
      port: Number(options.origin.port || (tls ? 443 : 80)),
      socketPath: options.socketPath ?? null,
      authority: options.origin.host,
      secureContext: options.secureContext,
      servername: options.servername ?? (isIP(host) === 0 ? host : null),
      connectTimeoutMs: options.connectTimeoutMs,
      maxHeaderBytes: options.maxHeaderBytes,
    };
    const every = Math.max(250, Math.min(1000, options.keepAliveTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#closeStaleIdle(), every).unref();
    // One sweep for every exchange's response timeout, instead of a timer each (whose setTimeout
    // alone was 1.7% of the gateway's CPU samples at peak).
    this.#tick = Math.max(10, Math.min(1000, options.responseTimeoutMs / 10));
    this.#startSweep();
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    const exchange = new Exchange(request, handler);
    handler.onConnect(exchange.abort);
    if (exchange.settled) return;
    exchange.startTimeout(this.#options.responseTimeoutMs, performance.now());
    // A request may still reach a closed pool (one that held the runtime a reload retired).
    if (this.#deadlines === null) this.#startSweep();
    this.#start(exchange);
  }

  stats(): PoolStats {
    return { open: this.#open.size, idle: this.#idle.length, waiting: this.#waiting.length };
  }

  probe(): Promise<boolean> {
    return probeConnection(this.#connection);
  }

  close(): Promise<void> {
    // Every caller waits for the same drain: a second call must not replace the first's.
    return (this.#closed ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    for (const connection of this.#idle) connection.destroy(null);
    this.#idle.length = 0;
    // Exchanges still under way keep their response timeout until the last connection is gone.
    if (this.#open.size > 0) await new Promise<void>((resolve) => (this.#onDrained = resolve));
    if (this.#open.size === 0) this.#stopSweep();
  }

  /**
   * ConnectionOwner: the connection is free for the next request. While closing, requests
   * already waiting are still served (a reload retires a pool with its queue, not instead of it).
   */
  release(connection: UpstreamConnection): void {
    const next = this.#nextWaiting();
    if (next !== null) connection.send(next);
    else if (this.#closing) connection.destroy(null);
    else {
      connection.idleSince = Date.now();
      this.#idle.push(connection);
    }
  }

  /** ConnectionOwner: the connection is gone. */
  closed(connection: UpstreamConnection, retry: Exchange | null): void {
    this.#open.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (retry !== null && this.#inTime(retry)) {
      retry.retried = true;
      this.#start(retry);
    }
    // Requests waiting for a free connection get a new one in place of the one that closed.
    const next = this.#open.size < this.#options.connections ? this.#nextWaiting() : null;
    if (next !== null) this.#openConnection().send(next);
    if (this.#closing && this.#open.size === 0) {
      this.#stopSweep();
      this.#onDrained?.();
    }
  }

  #start(exchange: Exchange): void {
    let connection = this.#idle.pop();
    while (connection !== undefined && connection.isClosed) connection = this.#idle.pop();
    if (connection !== undefined) connection.send(exchange);
    else if (this.#open.size < this.#options.connections) this.#openConnection().send(exchange);
    else this.#waiting.push(exchange);
  }

  #openConnection(): UpstreamConnection {
    const connection = new UpstreamConnection(this.#connection, this);
    this.#open.add(connection);
    return connection;
  }

  #nextWaiting(): Exchange | null {
    while (this.#waiting.length > 0) {
      const exchange = this.#waiting.shift()!;
      if (this.#inTime(exchange)) return exchange;
    }
    return null;
  }

  /**
   * Whether an exchange is still to be sent: not settled, and its timeout not run out (one the
   * sweep has not reached yet fails now, on a microtask, instead of taking a connection).
   */
  #inTime(exchange: Exchange): boolean {
    if (exchange.settled) return false;
    if (performance.now() < exchange.deadline) return true;
    queueMicrotask(() => exchange.expire(responseTimeout(exchange.timeoutMs)));
    return false;
  }

  #startSweep(): void {
    this.#deadlines = setInterval(() => this.#expireLate(), this.#tick).unref();
  }

  #stopSweep(): void {
    if (this.#deadlines !== null) clearInterval(this.#deadlines);
    this.#deadlines = null;
  }

  /** Fails the exchanges, sent or waiting, whose response timeout has run out. */
  #expireLate(): void {
    const now = performance.now();
    const late: Exchange[] = [];
    for (const connection of this.#open) {
      const exchange = connection.exchange;
      if (exchange !== null && now >= exchange.deadline) late.push(exchange);
    }
    for (const exchange of this.#waiting) if (now >= exchange.deadline) late.push(exchange);
    for (const exchange of late) exchange.expire(responseTimeout(exchange.timeoutMs));
  }

  #closeStaleIdle(): void {
    const cutoff = Date.now() - this.#options.keepAliveTimeoutMs;
    // Idle connections are pushed in release order, so the stale ones are at the front.
    let stale = 0;
    while (stale < this.#idle.length && this.#idle[stale]!.idleSince <= cutoff) stale += 1;
    if (stale === 0) return;
    for (const connection of this.#idle.splice(0, stale)) connection.destroy(null);
  }
}
