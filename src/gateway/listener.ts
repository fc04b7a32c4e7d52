import { randomUUID } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LimitsConfig } from '../config/types.js';
import { errorCatalogue, type ErrorCode } from '../errors/catalogue.js';
import { problemBody } from '../errors/problem.js';
import { AddressGate } from './address-gate.js';
import { HSTS_VALUE } from './problems.js';
import { FrontConnection, type FrontHost } from './front/connection.js';
import type { FrontRequest } from './front/request.js';
import type { FrontResponse } from './front/response.js';
import { exposedCredentialIn, type ExposedCredential } from './plaintext-credential.js';

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/** TLS 1.2 suites: forward secrecy and AEAD only (no CBC, no RSA key exchange). TLS 1.3's are all modern. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** First byte of a TLS record carrying a handshake (RFC 8446 §5.1, ContentType 22). */
const TLS_HANDSHAKE_RECORD = 0x16;

export interface TransportRefusal {
  readonly requestId: string;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly clientAddress: string;
  /** A credential seen in a plaintext request: it crossed the network in the clear. */
  readonly exposed: ExposedCredential | null;
}

/** What both listeners are given: where, with which certificate and limits, whom to tell of refusals. */
interface FrontDoorOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly limits: LimitsConfig;
  /** Told of every request refused before it reached the pipeline (parser errors, plaintext, timeouts). */
  readonly onTransportRefusal: (refusal: TransportRefusal) => void;
  /** The id of the active API key `key` is, or null: what a key seen in plaintext exposes (none by default). */
  readonly identifyApiKey?: (key: string) => string | null;
}

export interface ListenerOptions extends FrontDoorOptions {
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * A TLS-only listener. A plain TCP server looks at the first byte of each connection: a TLS
 * handshake goes on to the HTTPS server; a plaintext HTTP request gets a 400 problem and the
 * connection is closed, never a redirect (a redirect would invite clients to resend their
 * credentials in the clear first).
 */
export class Listener {
  readonly https: https.Server;
  readonly #tcp: net.Server;
  readonly #options: ListenerOptions;
  readonly #gate: AcceptGate;

  constructor(options: ListenerOptions) {
    this.#options = options;
    const limits = options.limits;
    this.https = https.createServer(
      {
        key: options.tls.key,
        cert: options.tls.cert,
        minVersion: 'TLSv1.2',
        ciphers: TLS12_CIPHERS,
        honorCipherOrder: true,
        ALPNProtocols: ['http/1.1'],
        handshakeTimeout: limits.headersTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.idleTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        requireHostHeader: true,
      },
      options.onRequest,
    );
    this.https.timeout = limits.idleTimeoutMs;
    this.https.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) =>
      this.#onClientError(err, socket),
    );
    const gate = gateFor(limits, options);
    this.#tcp = net.createServer({ noDelay: true }, (socket) => {
      if (gate.admits(socket)) this.#sniff(socket);
    });
    this.#tcp.maxConnections = limits.maxConnections;
    this.#gate = gate;
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(this.#options.port, this.#options.host, () => {
        this.#tcp.off('error', reject);
        // The HTTPS server never binds a socket itself (connections arrive from the TCP server
        // after the first-byte check), so tell it it is listening: that starts its tracking of
        // connections, which enforces headersTimeout and requestTimeout on slow clients.
        this.https.emit('listening');
        resolve(this.#tcp.address() as net.AddressInfo);
      });
    });
  }

  address(): net.AddressInfo {
    return this.#tcp.address() as net.AddressInfo;
  }

  /** New certificates for new connections; established ones keep theirs. */
  setTls(tls: TlsMaterial): void {
    this.https.setSecureContext({
      key: tls.key,
      cert: tls.cert,
      minVersion: 'TLSv1.2',
      ciphers: TLS12_CIPHERS,
    });
  }

  /**
   * Stops accepting, lets in-flight requests finish, closes kept-alive connections as they go
   * idle, and cuts whatever is left once the grace period is over.
   */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const sweep = setInterval(() => this.https.closeIdleConnections(), 50);
      const force = setTimeout(() => this.https.closeAllConnections(), graceMs);
      this.#tcp.close(() => {
        clearInterval(sweep);
        clearTimeout(force);
        this.#gate.stop();
        this.https.close(() => resolve());
      });
      this.https.closeIdleConnections();
    });
  }

  #sniff(socket: net.Socket): void {
    sniffTls(socket, this.#options.limits, this.https, (code, reason, plaintext) =>
      this.#refuse(socket, code, reason, plaintext),
    );
  }

  #onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    switch (err.code) {
      case 'HPE_HEADER_OVERFLOW':
        this.#refuse(socket, 'GH_TRANSPORT_HEADERS_TOO_LARGE', 'request headers over maxHeaderBytes');
        return;
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        this.#refuse(socket, 'GH_TRANSPORT_TIMEOUT', 'request not received within the time allowed');
        return;
      case 'ECONNRESET':
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
      case undefined:
        socket.destroy();
        return;
      default:
        if (err.code.startsWith('HPE_'))
          this.#refuse(socket, 'GH_TRANSPORT_BAD_REQUEST', `HTTP parse error ${err.code}`);
        else socket.destroy();
    }
  }

  #refuse(socket: net.Socket, code: ErrorCode, reason: string, plaintext: Buffer | null = null): void {
    refuseRaw(socket, code, reason, this.#options, plaintext);
  }
}

/**
 * The first byte of a connection decides: a TLS handshake goes on to `tlsServer`, anything else
 * is refused as plaintext. A connection that sends nothing is closed after the header timeout.
 */
function sniffTls(
  socket: net.Socket,
  limits: LimitsConfig,
  tlsServer: net.Server,
  refuse: (code: ErrorCode, reason: string, plaintext: Buffer | null) => void,
): void {
  socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
  socket.once('data', (chunk: Buffer) => {
    socket.setTimeout(0);
    socket.pause();
    if (chunk[0] === TLS_HANDSHAKE_RECORD) {
      socket.unshift(chunk);
      tlsServer.emit('connection', socket);
      process.nextTick(() => socket.resume());
      return;
    }
    refuse('GH_TRANSPORT_PLAINTEXT', 'plaintext HTTP on the TLS port', chunk);
  });
  socket.on('error', () => socket.destroy());
}

/** The per-address gate of one listener, as its TCP server's accept sees it. */
interface AcceptGate {
  /** False (and the socket destroyed, before any TLS work) when its address is over a limit. */
  admits(socket: net.Socket): boolean;
  stop(): void;
}

function gateFor(limits: LimitsConfig, options: FrontDoorOptions): AcceptGate {
  const gate = new AddressGate(limits.maxConnectionsPerAddress, limits.maxHandshakesPerAddressPerSecond);
  const sweep = setInterval(() => gate.sweep(performance.now()), 10_000);
  sweep.unref();
  return {
    admits(socket) {
      const address = socket.remoteAddress ?? '';
      const now = performance.now();
      const refused = gate.admit(address, now);
      if (refused === null) {
        socket.once('close', () => gate.release(address));
        return true;
      }
      socket.destroy();
      // Told once a second per address: a flood must not become a flood of events.
      if (gate.report(address, now)) {
        const refusal = { requestId: randomUUID(), code: 'GH_LIMIT_CONCURRENCY' as const, reason: refused };
        options.onTransportRefusal({ ...refusal, clientAddress: address, exposed: null });
      }
      return false;
    },
    stop: () => clearInterval(sweep),
  };
}

function identifyNoKey(): null {
  return null;
}

/** A raw HTTP/1.1 problem answer, then close: the parser state cannot be trusted any more. */
function refuseRaw(
  socket: net.Socket,
  code: ErrorCode,
  reason: string,
  options: FrontDoorOptions,
  plaintext: Buffer | null,
): void {
  const requestId = randomUUID();
  const exposed =
    plaintext === null
      ? null
      : exposedCredentialIn(
          plaintext,
          options.limits.maxHeaderBytes,
          options.identifyApiKey ?? identifyNoKey,
        );
  options.onTransportRefusal({ requestId, code, reason, clientAddress: socket.remoteAddress ?? '', exposed });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, title } = errorCatalogue[code];
  const body = problemBody(code, requestId);
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\n` +
      `content-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `strict-transport-security: ${HSTS_VALUE}\r\n` +
      `x-content-type-options: nosniff\r\n` +
      `cache-control: no-store\r\n` +
      `x-request-id: ${requestId}\r\n` +
      `connection: close\r\n\r\n` +
      body,
  );
}

export interface GatewayListenerOptions extends FrontDoorOptions {
  /** A request for the pipeline. */
  readonly onRequest: (req: FrontRequest, res: FrontResponse) => void;
  /** Once per request handed to onRequest: its response is out, or its connection was lost first. */
  readonly onClosed: (res: FrontResponse) => void;
}

/**
 * The gateway's own TLS listener: the same front door as Listener (first-byte check, TLS
 * settings, raw refusals) with Gatehouse's HTTP/1.1 connection handling (front/connection.ts)
 * instead of node:http's request and response streams, which cost more per request than all
 * the gateway's stages together. Header, request and idle deadlines are checked by one sweep.
 */
export class GatewayListener implements FrontHost {
  readonly limits: LimitsConfig;
  readonly #options: GatewayListenerOptions;
  readonly #tls: tls.Server;
  readonly #tcp: net.Server;
  readonly #connections = new Set<FrontConnection>();
  readonly #gate: AcceptGate;
  readonly #sweep: NodeJS.Timeout;
  #closing = false;
  #onDrained: (() => void) | null = null;

  constructor(options: GatewayListenerOptions) {
    this.#options = options;
    this.limits = options.limits;
    const limits = options.limits;
    this.#tls = tls.createServer({
      ...secureOptions(options.tls),
      honorCipherOrder: true,
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: limits.headersTimeoutMs,
    });
    this.#tls.on('secureConnection', (socket: tls.TLSSocket) => this.#accept(socket));
    this.#tls.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
    const gate = gateFor(limits, options);
    this.#gate = gate;
    this.#tcp = net.createServer({ noDelay: true }, (socket) => {
      if (!gate.admits(socket)) return;
      sniffTls(socket, limits, this.#tls, (code, reason, plaintext) =>
        this.refuse(socket, code, reason, plaintext),
      );
    });
    this.#tcp.maxConnections = limits.maxConnections;
    this.#sweep = setInterval(() => this.#checkDeadlines(), sweepInterval(limits));
    this.#sweep.unref();
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(this.#options.port, this.#options.host, () => {
        this.#tcp.off('error', reject);
        resolve(this.#tcp.address() as net.AddressInfo);
      });
    });
  }

  address(): net.AddressInfo {
    return this.#tcp.address() as net.AddressInfo;
  }

  /** New certificates for new connections; established ones keep theirs. */
  setTls(material: TlsMaterial): void {
    this.#tls.setSecureContext(secureOptions(material));
  }

  /**
   * Stops accepting, lets in-flight requests finish, closes kept-alive connections as they go
   * idle, and cuts whatever is left once the grace period is over.
   */
  close(graceMs: number): Promise<void> {
    this.#closing = true;
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        for (const connection of this.#connections) connection.socket.destroy();
      }, graceMs);
      let pending = 2;
      const done = (): void => {
        pending -= 1;
        if (pending > 0) return;
        clearTimeout(force);
        clearInterval(this.#sweep);
        this.#gate.stop();
        resolve();
      };
      this.#onDrained = done;
      this.#tcp.close(done);
      for (const connection of this.#connections) connection.closeWhenIdle();
      if (this.#connections.size === 0) this.#drained();
    });
  }

  // FrontHost

  request(req: FrontRequest, res: FrontResponse): void {
    this.#options.onRequest(req, res);
  }

  closed(res: FrontResponse): void {
    this.#options.onClosed(res);
  }

  refuse(socket: net.Socket, code: ErrorCode, reason: string, plaintext: Buffer | null = null): void {
    refuseRaw(socket, code, reason, this.#options, plaintext);
  }

  forget(connection: FrontConnection): void {
    this.#connections.delete(connection);
    if (this.#closing && this.#connections.size === 0) this.#drained();
  }

  #accept(socket: tls.TLSSocket): void {
    const connection = new FrontConnection(socket, this);
    this.#connections.add(connection);
    if (this.#closing) connection.closeWhenIdle();
  }

  #drained(): void {
    const done = this.#onDrained;
    this.#onDrained = null;
    done?.();
  }

  #checkDeadlines(): void {
    const now = performance.now();
    for (const connection of this.#connections) connection.checkDeadlines(now);
  }
}

function secureOptions(material: TlsMaterial): tls.SecureContextOptions {
  return { key: material.key, cert: material.cert, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS };
}

/** How often deadlines are checked: a quarter of the header timeout, within 50 ms to 1 s. */
function sweepInterval(limits: LimitsConfig): number {
  return Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4)));
}
