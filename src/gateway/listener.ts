import { randomUUID } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LimitsConfig } from '../config/types.js';
import { errorCatalogue, type ErrorCode } from '../errors/catalogue.js';
import { problemBody } from '../errors/problem.js';
import { HSTS_VALUE } from './respond.js';

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
}

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly limits: LimitsConfig;
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** Told of every request refused before it reached the pipeline (parser errors, plaintext). */
  readonly onTransportRefusal: (refusal: TransportRefusal) => void;
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
    this.#tcp = net.createServer({ noDelay: true }, (socket) => this.#sniff(socket));
    this.#tcp.maxConnections = limits.maxConnections;
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
        this.https.close(() => resolve());
      });
      this.https.closeIdleConnections();
    });
  }

  #sniff(socket: net.Socket): void {
    socket.setTimeout(this.#options.limits.headersTimeoutMs, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        socket.unshift(chunk);
        this.https.emit('connection', socket);
        process.nextTick(() => socket.resume());
        return;
      }
      this.#refuse(socket, 'GH_TRANSPORT_PLAINTEXT', 'plaintext HTTP on the TLS port');
    });
    socket.on('error', () => socket.destroy());
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

  /** A raw HTTP/1.1 problem answer, then close: the parser state cannot be trusted any more. */
  #refuse(socket: net.Socket, code: ErrorCode, reason: string): void {
    const requestId = randomUUID();
    this.#options.onTransportRefusal({ requestId, code, reason, clientAddress: socket.remoteAddress ?? '' });
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
}
