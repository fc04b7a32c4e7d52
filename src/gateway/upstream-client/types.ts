/** One request to an upstream, as the forward stage prepares it. */
export interface UpstreamRequest {
  /** Path and query as sent on the request line (already prefixed and checked by the route stage). */
  readonly path: string;
  readonly method: string;
  /** Flat list of name, value, name, value …; names lower-case. */
  readonly headers: readonly string[];
  readonly body: Buffer | null;
}

/**
 * What a caller hears about its request, in order: onConnect once (with the way to abort), then
 * either onHeaders → onData* → onComplete, or onError at any point. onData returning false asks
 * for back-pressure: nothing more is read until `resume` (given with the headers) is called.
 */
export interface UpstreamHandler {
  onConnect(abort: (reason: Error) => void): void;
  /** `headers`: flat name, value list as the upstream spelled it. */
  onHeaders(status: number, headers: readonly string[], resume: () => void): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}

/** Something requests can be sent through: a pool of upstream connections, or an in-process API. */
export interface UpstreamDispatcher {
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void;
  /** Stops taking requests; resolves once the ones in flight have finished and sockets are closed. */
  close(): Promise<void>;
  /** Connections and waiting requests now, for metrics. */
  stats(): PoolStats;
  /** Whether the upstream takes a new connection now (TCP and TLS handshake), for readiness. */
  probe(): Promise<boolean>;
}

export interface PoolStats {
  readonly open: number;
  readonly idle: number;
  readonly waiting: number;
}
