import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  createSecureContext,
  createServer as createTlsServer,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/redis-server.js';
import { ensureDevCertificates, type DevCertificates } from '../../tls/dev-certs.js';
import { UpstreamPool, type UpstreamPoolOptions } from './pool.js';
import type { UpstreamHandler, UpstreamRequest } from './types.js';
import { UpstreamError, type UpstreamErrorCode } from './upstream-error.js';

// Every test talks to real TLS listeners on 127.0.0.1:0 with the development CA: the pool
// verifies the upstream and presents the gateway's client certificate (the upstreams require it).

let certs: DevCertificates;
let clientContext: SecureContext;
const stateDirs: string[] = [];

beforeAll(async () => {
  certs = await ensureDevCertificates(await newStateDir());
  clientContext = createSecureContext({ ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey });
});

afterAll(async () => {
  for (const dir of stateDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function newStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-upstream-client-'));
  stateDirs.push(dir);
  return dir;
}

/** Fails (instead of hanging the run) when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The pool under test.

function createPool(port: number, overrides: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  const pool = new UpstreamPool({
    origin: new URL(`https://127.0.0.1:${port}`),
    secureContext: clientContext,
    servername: null,
    connections: 4,
    connectTimeoutMs: 2_000,
    responseTimeoutMs: 3_000,
    keepAliveTimeoutMs: 4_000,
    maxHeaderBytes: 16_384,
    ...overrides,
  });
  cleanups.push(() => within(pool.close(), 3_000, 'pool.close()'));
  return pool;
}

interface Hooks {
  readonly onConnect?: (handler: RecordingHandler) => void;
  readonly onHeaders?: (handler: RecordingHandler) => boolean;
  readonly onData?: (chunk: Buffer, handler: RecordingHandler) => boolean;
}

/**
 * Records what the pool tells it, in order. Runs of onData calls show as one 'data' event
 * (`dataCalls` counts them); anything after the exchange settled shows as 'late …', and an
 * error reported from inside one of its own callbacks as 'error (re-entrant)'.
 */
class RecordingHandler implements UpstreamHandler {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  status = 0;
  headers: readonly string[] = [];
  dataCalls = 0;
  error: Error | null = null;
  abort: (reason: Error) => void = () => {
    throw new Error('abort used before onConnect');
  };
  resume: () => void = () => {
    throw new Error('resume used before onHeaders');
  };
  readonly done: Promise<void>;
  readonly #hooks: Hooks;
  #settle: () => void = () => undefined;
  #settled = false;
  #inCallback = false;

  constructor(hooks: Hooks = {}) {
    this.#hooks = hooks;
    this.done = new Promise((resolve) => (this.#settle = resolve));
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get code(): UpstreamErrorCode | null {
    return this.error instanceof UpstreamError ? this.error.code : null;
  }

  onConnect(abort: (reason: Error) => void): void {
    this.#note('connect');
    this.abort = abort;
    this.#inside(() => this.#hooks.onConnect?.(this));
  }

  onHeaders(status: number, headers: readonly string[], resume: () => void): boolean {
    this.#note('headers');
    this.status = status;
    this.headers = headers;
    this.resume = resume;
    return this.#inside(() => this.#hooks.onHeaders?.(this) ?? true);
  }

  onData(chunk: Buffer): boolean {
    if (this.events.at(-1) !== 'data') this.#note('data');
    this.dataCalls += 1;
    this.chunks.push(Buffer.from(chunk));
    return this.#inside(() => this.#hooks.onData?.(chunk, this) ?? true);
  }

  onComplete(): void {
    this.#note('complete');
    this.#settled = true;
    this.#settle();
  }

  onError(err: Error): void {
    this.#note(this.#inCallback ? 'error (re-entrant)' : 'error');
    this.error ??= err;
    this.#settled = true;
    this.#settle();
  }

  #note(event: string): void {
    this.events.push(this.#settled ? `late ${event}` : event);
  }

  #inside<T>(callback: () => T): T {
    this.#inCallback = true;
    try {
      return callback();
    } finally {
      this.#inCallback = false;
    }
  }
}

function send(
  pool: UpstreamPool,
  request: Partial<UpstreamRequest> = {},
  hooks: Hooks = {},
): RecordingHandler {
  const handler = new RecordingHandler(hooks);
  pool.dispatch({ method: 'GET', path: '/', headers: [], body: null, ...request }, handler);
  return handler;
}

/** Waits for the exchange to settle, then a little longer so that late events would show. */
async function settled(handler: RecordingHandler): Promise<RecordingHandler> {
  await within(handler.done, 5_000, 'the exchange');
  await delay(20);
  return handler;
}

const COMPLETE = ['connect', 'headers', 'data', 'complete'];
const COMPLETE_WITHOUT_BODY = ['connect', 'headers', 'complete'];

// ---------------------------------------------------------------------------------------------
// Upstreams.

interface SeenRequest {
  /** 1-based number of the TLS connection it came on, in handshake order. */
  readonly connection: number;
  /** 0-based position of the request on its connection. */
  readonly index: number;
  /** Request line and header section, byte for byte (latin1), with the empty line. */
  readonly head: string;
  readonly body: Buffer;
  /** Common name of the client certificate the connection presented. */
  readonly peer: unknown;
}

interface RawUpstream {
  readonly port: number;
  readonly requests: SeenRequest[];
  /** TLS connections that completed the handshake. */
  connections(): number;
  /** TCP connections (handshake completed or not) since closed by either side. */
  closedConnections(): number;
}

type Responder = (request: SeenRequest, socket: TLSSocket) => void;

/**
 * A TLS listener requiring the gateway's client certificate, answering with exact bytes:
 * `respond` sees each request (read by its Content-Length) and writes to the socket itself.
 */
async function startRawUpstream(
  respond: Responder,
  serverCerts: DevCertificates = certs,
): Promise<RawUpstream> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<TLSSocket>();
  let connections = 0;
  let closed = 0;
  const server = createTlsServer(
    {
      key: serverCerts.serverKey,
      cert: serverCerts.serverCert,
      ca: serverCerts.caCert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => {
      connections += 1;
      const connection = connections;
      const peer = socket.getPeerCertificate().subject?.CN;
      let index = 0;
      readRequests(socket, (head, body) => {
        const request = { connection, index: index++, head, body, peer };
        requests.push(request);
        respond(request, socket);
      });
    },
  );
  server.on('connection', (socket: Socket) => {
    socket.on('close', () => (closed += 1));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await listen(server);
  cleanups.push(() => closeServer(server, sockets));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    closedConnections: () => closed,
  };
}

function readRequests(socket: TLSSocket, onRequest: (head: string, body: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.subarray(0, end + 4).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)\r\n/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      const body = Buffer.from(pending.subarray(end + 4, end + 4 + length));
      pending = pending.subarray(end + 4 + length);
      onRequest(head, body);
    }
  });
}

async function listen(server: NetServer): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}

async function closeServer(server: NetServer, sockets: Iterable<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
}

/** `HTTP/1.1 200 OK` with a Content-Length body. */
function ok(body: string | Buffer, headers = ''): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\n${headers}Content-Length: ${bytes.length}\r\n\r\n`),
    bytes,
  ]);
}

/** Answers every request with `ok(<its path>)`. */
const echoPath: Responder = (request, socket) => {
  socket.write(ok(request.head.split(' ')[1]!));
};

/** Bytes 0–255 repeated: a body whose every byte value must survive the trip unchanged. */
function everyByte(length: number): Buffer {
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) body[i] = i % 256;
  return body;
}

// ---------------------------------------------------------------------------------------------

describe('UpstreamPool: requests and answers', () => {
  it('sends the exact request head and hands over status, headers as spelled and body', async () => {
    const upstream = await startRawUpstream((_, socket) => {
      socket.write(ok('hello', 'X-Trace-Id: abc\r\ncontent-TYPE: text/plain\r\n'));
    });
    const pool = createPool(upstream.port);

    const handler = await settled(
      send(pool, { path: '/items?page=2&q=a%20b', headers: ['accept', 'text/plain', 'x-request-id', 'r-1'] }),
    );

    expect(handler.events).toEqual(COMPLETE);
    expect(handler.status).toBe(200);
    expect(handler.headers).toEqual([
      'X-Trace-Id',
      'abc',
      'content-TYPE',
      'text/plain',
      'Content-Length',
      '5',
    ]);
    expect(handler.body.toString()).toBe('hello');
    expect(upstream.requests.map((r) => r.head)).toEqual([
      `GET /items?page=2&q=a%20b HTTP/1.1\r\nhost: 127.0.0.1:${upstream.port}\r\naccept: text/plain\r\nx-request-id: r-1\r\n\r\n`,
    ]);
    // The hop is mTLS: the upstream saw the gateway's client certificate.
    expect(upstream.requests[0]!.peer).toBe('gatehouse-gateway');
  });

  it('sends a POST body byte for byte with its content-length, small (one write) and large', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port);
    const small = everyByte(1_000);
    const large = everyByte(100_000);

    const first = await settled(
      send(pool, {
        method: 'POST',
        path: '/small',
        headers: ['content-type', 'application/octet-stream'],
        body: small,
      }),
    );
    const second = await settled(send(pool, { method: 'PUT', path: '/large', body: large }));

    expect([first.events, second.events]).toEqual([COMPLETE, COMPLETE]);
    expect(upstream.requests.map((r) => r.head)).toEqual([
      `POST /small HTTP/1.1\r\nhost: 127.0.0.1:${upstream.port}\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000\r\n\r\n`,
      `PUT /large HTTP/1.1\r\nhost: 127.0.0.1:${upstream.port}\r\ncontent-length: 100000\r\n\r\n`,
    ]);
    expect(upstream.requests[0]!.body.equals(small)).toBe(true);
    expect(upstream.requests[1]!.body.equals(large)).toBe(true);
  });

  it('states content-length: 0 for a bodiless POST, PUT and PATCH, and none for GET or DELETE', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port);

    for (const method of ['POST', 'PUT', 'PATCH', 'GET', 'DELETE']) {
      expect((await settled(send(pool, { method, path: `/${method}` }))).events).toEqual(COMPLETE);
    }

    const host = `host: 127.0.0.1:${upstream.port}\r\n`;
    expect(upstream.requests.map((r) => r.head)).toEqual([
      `POST /POST HTTP/1.1\r\n${host}content-length: 0\r\n\r\n`,
      `PUT /PUT HTTP/1.1\r\n${host}content-length: 0\r\n\r\n`,
      `PATCH /PATCH HTTP/1.1\r\n${host}content-length: 0\r\n\r\n`,
      `GET /GET HTTP/1.1\r\n${host}\r\n`,
      `DELETE /DELETE HTTP/1.1\r\n${host}\r\n`,
    ]);
  });

  it('hands over more than 32 header fields (parsed in two parts) in order, as spelled', async () => {
    const fields = Array.from({ length: 40 }, (_, i) => [`X-Field-${i}`, `value ${i}`] as const);
    const upstream = await startRawUpstream((_, socket) => {
      socket.write(ok('ok', fields.map(([name, value]) => `${name}: ${value}\r\n`).join('')));
    });
    const pool = createPool(upstream.port);

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(COMPLETE);
    expect(handler.headers).toEqual([...fields.flat(), 'Content-Length', '2']);
  });

  it('verifies the certificate against the configured server name, and fails on a name it lacks', async () => {
    const upstream = await startRawUpstream(echoPath);
    const named = createPool(upstream.port, { servername: 'localhost' });
    const misnamed = createPool(upstream.port, { servername: 'upstream.example' });

    const good = await settled(send(named, { path: '/named' }));
    const bad = await settled(send(misnamed, { path: '/misnamed' }));

    expect(good.events).toEqual(COMPLETE);
    expect(good.body.toString()).toBe('/named');
    expect(bad.events).toEqual(['connect', 'error']);
    expect(bad.code).toBe('UPSTREAM_CONNECT_FAILED');
    expect((bad.error?.cause as { code?: unknown } | undefined)?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(upstream.requests.map((r) => r.head.split('\r\n')[0])).toEqual(['GET /named HTTP/1.1']);
  });
});

describe('UpstreamPool: connection reuse', () => {
  it('carries 5 sequential requests over one TLS connection to a Node https upstream', async () => {
    let handshakes = 0;
    const seen: string[] = [];
    const server = createHttpsServer(
      {
        key: certs.serverKey,
        cert: certs.serverCert,
        ca: certs.caCert,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        seen.push(`${req.method} ${req.url} ${(req.socket as TLSSocket).getPeerCertificate().subject?.CN}`);
        res.setHeader('X-Seq', String(seen.length));
        res.end(`answer ${seen.length}`);
      },
    );
    server.on('secureConnection', () => (handshakes += 1));
    await listen(server);
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const pool = createPool((server.address() as AddressInfo).port);

    const bodies: string[] = [];
    for (let i = 1; i <= 5; i += 1) {
      const handler = await settled(send(pool, { path: `/n/${i}` }));
      expect(handler.events).toEqual(COMPLETE);
      expect(handler.status).toBe(200);
      bodies.push(handler.body.toString());
    }

    expect(bodies).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4', 'answer 5']);
    expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => `GET /n/${i} gatehouse-gateway`));
    expect(handshakes).toBe(1);
  });

  it('opens at most `connections` and serves waiting requests in the order they were dispatched', async () => {
    const held: { path: string; socket: TLSSocket }[] = [];
    const upstream = await startRawUpstream((request, socket) => {
      held.push({ path: request.head.split(' ')[1]!, socket });
    });
    const pool = createPool(upstream.port, { connections: 2 });
    const respondToOldest = (): string => {
      const next = held.shift()!;
      next.socket.write(ok(next.path));
      return next.path;
    };
    const paths = ['/0', '/1', '/2', '/3', '/4', '/5'];

    const handlers = paths.map((path) => send(pool, { path }));
    await expect.poll(() => upstream.requests.length).toBe(2);
    expect(held.map((h) => h.path).sort()).toEqual(['/0', '/1']);
    // Each response frees a connection, which takes the oldest waiting request.
    const responded: string[] = [];
    for (let seen = 3; seen <= 6; seen += 1) {
      responded.push(respondToOldest());
      await expect.poll(() => upstream.requests.length).toBe(seen);
      expect(upstream.requests[seen - 1]!.head.split(' ')[1]).toBe(paths[seen - 1]);
    }
    responded.push(respondToOldest(), respondToOldest());
    for (const handler of handlers) await settled(handler);

    expect(handlers.map((h) => h.events)).toEqual(paths.map(() => COMPLETE));
    expect(handlers.map((h) => h.body.toString())).toEqual(paths);
    expect(responded.slice(2)).toEqual(['/2', '/3', '/4', '/5']);
    expect(upstream.connections()).toBe(2);
  });

  it('closes idle connections after keepAliveTimeoutMs, then opens a new one', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port, { keepAliveTimeoutMs: 300 });

    expect((await settled(send(pool, { path: '/a' }))).events).toEqual(COMPLETE);
    const idleFrom = performance.now();
    await expect.poll(() => upstream.closedConnections(), { timeout: 2_000, interval: 10 }).toBe(1);
    const idleFor = performance.now() - idleFrom;
    const next = await settled(send(pool, { path: '/b' }));

    // The sweep runs every 250 ms: the connection goes between 300 and 550 ms after its release.
    expect(idleFor).toBeGreaterThanOrEqual(250);
    expect(idleFor).toBeLessThan(1_500);
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('/b');
    expect(upstream.connections()).toBe(2);
  });

  it('closes an idle connection on which the upstream sends unsolicited bytes, and uses a new one', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      socket.write(ok(`answer ${request.connection}`));
      if (request.connection === 1) setTimeout(() => socket.write(ok('nobody asked')), 50);
    });
    const pool = createPool(upstream.port);

    const first = await settled(send(pool));
    await expect.poll(() => upstream.closedConnections()).toBe(1);
    const second = await settled(send(pool));

    expect([first.events, second.events]).toEqual([COMPLETE, COMPLETE]);
    expect([first.body.toString(), second.body.toString()]).toEqual(['answer 1', 'answer 2']);
    expect(upstream.connections()).toBe(2);
  });

  it.each([
    ['an unsolicited answer', ok('nobody asked')],
    // A valid prefix of a status line: llhttp waits for more, so only message-begin sees it.
    ['the start of another answer', Buffer.from('HTTP/1.1 2')],
    ['garbage', Buffer.from('GARBAGE\r\n\r\n')],
  ])(
    'completes an answer followed in the same read by %s, once, and drops the connection',
    async (_, extra) => {
      const upstream = await startRawUpstream((request, socket) => {
        const response = ok(`answer ${request.connection}`);
        socket.write(request.connection === 1 ? Buffer.concat([response, extra]) : response);
      });
      const pool = createPool(upstream.port);

      const first = await settled(send(pool));
      await expect.poll(() => upstream.closedConnections()).toBe(1);
      const second = await settled(send(pool));

      expect(first.events).toEqual(COMPLETE);
      expect(first.body.toString()).toBe('answer 1');
      expect(second.events).toEqual(COMPLETE);
      expect(second.body.toString()).toBe('answer 2');
      expect(upstream.connections()).toBe(2);
    },
  );
});

describe('UpstreamPool: message framing', () => {
  it('reassembles a chunked answer, ignores its trailers, and keeps the connection', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.index > 0) return void socket.write(ok('again'));
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => socket.write('6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n'), 30);
    });
    const pool = createPool(upstream.port);

    const chunked = await settled(send(pool));
    const next = await settled(send(pool));

    expect(chunked.events).toEqual(COMPLETE);
    expect(chunked.headers).toEqual(['Transfer-Encoding', 'chunked']);
    expect(chunked.body.toString()).toBe('hello world');
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('again');
    expect(upstream.connections()).toBe(1);
  });

  it('completes an answer delimited by the end of the connection, then opens a new one', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.connection > 1) return void socket.write(ok('fresh'));
      socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil ');
      setTimeout(() => socket.end('the end'), 30);
    });
    const pool = createPool(upstream.port);

    const delimited = await settled(send(pool));
    const next = await settled(send(pool));

    expect(delimited.events).toEqual(COMPLETE);
    expect(delimited.headers).toEqual(['Connection', 'close']);
    expect(delimited.body.toString()).toBe('until the end');
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('fresh');
    expect(upstream.connections()).toBe(2);
  });

  it('completes a HEAD answer with a Content-Length without waiting for a body', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      socket.write(
        request.index === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n' : ok('after head'),
      );
    });
    const pool = createPool(upstream.port);

    const head = await settled(send(pool, { method: 'HEAD' }));
    const next = await settled(send(pool));

    expect(head.events).toEqual(COMPLETE_WITHOUT_BODY);
    expect(head.headers).toEqual(['Content-Length', '1234']);
    expect(head.dataCalls).toBe(0);
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('after head');
    expect(upstream.connections()).toBe(1);
  });

  it('completes a 204 answer without a body', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      socket.write(request.index === 0 ? 'HTTP/1.1 204 No Content\r\nX-Done: yes\r\n\r\n' : ok('after 204'));
    });
    const pool = createPool(upstream.port);

    const noContent = await settled(send(pool, { method: 'DELETE' }));
    const next = await settled(send(pool));

    expect(noContent.events).toEqual(COMPLETE_WITHOUT_BODY);
    expect(noContent.status).toBe(204);
    expect(noContent.headers).toEqual(['X-Done', 'yes']);
    expect(next.body.toString()).toBe('after 204');
    expect(upstream.connections()).toBe(1);
  });

  it('reads past interim answers (103 Early Hints, 100 Continue): the handler hears only the final one', async () => {
    const hints = 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n';
    const upstream = await startRawUpstream((request, socket) => {
      if (request.index === 0) {
        // Separately, then together with the final answer in one write.
        socket.write(hints);
        setTimeout(() => socket.write(ok('final', 'X-Final: 1\r\n')), 30);
      } else {
        socket.write(
          Buffer.concat([Buffer.from(hints + 'HTTP/1.1 100 Continue\r\n\r\n'), ok('final again')]),
        );
      }
    });
    const pool = createPool(upstream.port);

    const apart = await settled(send(pool));
    const together = await settled(send(pool));

    expect(apart.events).toEqual(COMPLETE);
    expect(apart.status).toBe(200);
    expect(apart.headers).toEqual(['X-Final', '1', 'Content-Length', '5']);
    expect(apart.body.toString()).toBe('final');
    expect(together.events).toEqual(COMPLETE);
    expect(together.status).toBe(200);
    expect(together.headers).toEqual(['Content-Length', '11']);
    expect(together.body.toString()).toBe('final again');
    expect(upstream.connections()).toBe(1);
  });
});

describe('UpstreamPool: malformed answers', () => {
  const BEFORE_HEADERS = ['connect', 'error'];
  const malformed: [string, string, string[]][] = [
    [
      'two different Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      BEFORE_HEADERS,
    ],
    [
      'Transfer-Encoding with Content-Length',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      BEFORE_HEADERS,
    ],
    ['a garbage status line', 'HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', BEFORE_HEADERS],
    [
      'a 101 Switching Protocols',
      'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
      BEFORE_HEADERS,
    ],
    // The head was sound, so the handler heard it before the body went wrong.
    [
      'a bad chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      ['connect', 'headers', 'error'],
    ],
  ];

  it.each(malformed)(
    'refuses %s as UPSTREAM_BAD_RESPONSE and never reuses the connection',
    async (_, response, events) => {
      const upstream = await startRawUpstream((request, socket) => {
        socket.write(request.connection === 1 ? response : ok('clean'));
      });
      const pool = createPool(upstream.port);

      const bad = await settled(send(pool));
      const next = await settled(send(pool));

      expect(bad.events).toEqual(events);
      expect(bad.code).toBe('UPSTREAM_BAD_RESPONSE');
      expect(bad.dataCalls).toBe(0);
      expect(next.events).toEqual(COMPLETE);
      expect(next.body.toString()).toBe('clean');
      expect(upstream.requests.map((r) => r.connection)).toEqual([1, 2]);
    },
  );

  it('refuses a header section over maxHeaderBytes, and accepts one under it', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      socket.write(ok('body', `X-Big: ${'a'.repeat(request.connection === 1 ? 2_000 : 800)}\r\n`));
    });
    const pool = createPool(upstream.port, { maxHeaderBytes: 1_024 });

    const tooBig = await settled(send(pool));
    const fits = await settled(send(pool));

    expect(tooBig.events).toEqual(['connect', 'error']);
    expect(tooBig.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(fits.events).toEqual(COMPLETE);
    expect(fits.headers[1]).toBe('a'.repeat(800));
    expect(upstream.connections()).toBe(2);
  });
});

describe('UpstreamPool: the upstream closing the connection', () => {
  it('fails a POST the upstream read but did not answer with UPSTREAM_CLOSED, without sending it again', async () => {
    const upstream = await startRawUpstream((_, socket) => socket.end());
    const pool = createPool(upstream.port);

    const handler = await settled(send(pool, { method: 'POST', body: Buffer.from('{}') }));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CLOSED');
    expect(upstream.requests).toHaveLength(1);
  });

  it('does not send a GET again when a fresh connection closes under it', async () => {
    const upstream = await startRawUpstream((_, socket) => socket.destroy());
    const pool = createPool(upstream.port);

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CLOSED');
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.connections()).toBe(1);
  });

  it('sends a GET once more on a fresh connection when a reused one closes under it', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.index === 0) socket.write(ok(`connection ${request.connection}`));
      else socket.end();
    });
    const pool = createPool(upstream.port);

    const first = await settled(send(pool, { path: '/first' }));
    const second = await settled(send(pool, { path: '/second' }));

    expect([first.events, second.events]).toEqual([COMPLETE, COMPLETE]);
    expect(second.body.toString()).toBe('connection 2');
    expect(upstream.requests.map((r) => `${r.connection} ${r.head.split('\r\n')[0]}`)).toEqual([
      '1 GET /first HTTP/1.1',
      '1 GET /second HTTP/1.1',
      '2 GET /second HTTP/1.1',
    ]);
    expect(upstream.connections()).toBe(2);
  });

  it('does not send a GET again when its timeout ran out before the reused connection closed under it', async () => {
    // The sweep runs every 200 ms from the pool's creation; /second goes out halfway between two
    // sweeps, and the upstream closes its connection just after /second's timeout has run out and
    // before the next sweep: the pool's own check must fail it rather than send it again.
    let closeAfter = Infinity;
    const upstream = await startRawUpstream((request, socket) => {
      if (request.index === 0) socket.write(ok('first'));
      else if (request.connection === 1) {
        const timer = setInterval(() => {
          if (performance.now() < closeAfter) return;
          clearInterval(timer);
          socket.end();
        }, 5);
      } else socket.write(ok('sent again'));
    });
    const pool = createPool(upstream.port, { responseTimeoutMs: 2_000 });
    const created = performance.now();

    await settled(send(pool, { path: '/first' }));
    const sinceCreated = performance.now() - created;
    await delay(Math.ceil(sinceCreated / 200) * 200 + 100 - sinceCreated);
    const second = send(pool, { path: '/second' });
    closeAfter = performance.now() + 2_000 + 30;
    await settled(second);
    await delay(50);

    expect(second.events).toEqual(['connect', 'error']);
    expect(second.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect(upstream.requests.map((r) => `${r.connection} ${r.head.split('\r\n')[0]}`)).toEqual([
      '1 GET /first HTTP/1.1',
      '1 GET /second HTTP/1.1',
    ]);
  });

  it('sends it again only once: a second close fails it with UPSTREAM_CLOSED', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.connection === 1 && request.index === 0) socket.write(ok('first'));
      else socket.end();
    });
    const pool = createPool(upstream.port);

    await settled(send(pool));
    const handler = await settled(send(pool, { path: '/doomed' }));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CLOSED');
    expect(upstream.requests.map((r) => r.connection)).toEqual([1, 1, 2]);
    expect(upstream.connections()).toBe(2);
  });

  it('fails an answer the connection end cuts short with UPSTREAM_BAD_RESPONSE, after its head', async () => {
    const upstream = await startRawUpstream((_, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello');
    });
    const pool = createPool(upstream.port);

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'headers', 'data', 'error']);
    expect(handler.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(handler.error?.message).toBe('unparseable answer: HPE_INVALID_EOF_STATE Invalid EOF state');
    expect(handler.body.toString()).toBe('hello');
  });

  it('does not send a POST again when a reused connection closes under it', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.index === 0) socket.write(ok('first'));
      else socket.end();
    });
    const pool = createPool(upstream.port);

    await settled(send(pool));
    const handler = await settled(send(pool, { method: 'POST', body: Buffer.from('once') }));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CLOSED');
    expect(upstream.requests.map((r) => r.connection)).toEqual([1, 1]);
  });
});

describe('UpstreamPool: timeouts and connect failures', () => {
  it('fails with UPSTREAM_RESPONSE_TIMEOUT when the upstream never answers, and drops the connection', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.connection > 1) socket.write(ok('prompt'));
    });
    const pool = createPool(upstream.port, { responseTimeoutMs: 200 });

    const started = performance.now();
    const silent = await settled(send(pool));
    const elapsed = performance.now() - started;
    await expect.poll(() => upstream.closedConnections()).toBe(1);
    const next = await settled(send(pool));

    expect(silent.events).toEqual(['connect', 'error']);
    expect(silent.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect((silent.error as UpstreamError).isTimeout).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    expect(next.events).toEqual(COMPLETE);
    expect(upstream.connections()).toBe(2);
  });

  it('times out an exchange under way while the pool closes, and one dispatched after it closed', async () => {
    const upstream = await startRawUpstream(() => undefined);
    const pool = createPool(upstream.port, { responseTimeoutMs: 300 });

    const underWay = send(pool, { path: '/under-way' });
    await expect.poll(() => upstream.requests.length).toBe(1);
    await within(pool.close(), 3_000, 'pool.close()');
    // Closed, with nothing open: a request that still reaches it (a reload's stragglers).
    const started = performance.now();
    const late = send(pool, { path: '/late' });
    await settled(late);
    const elapsed = performance.now() - started;

    expect((await settled(underWay)).code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect(late.events).toEqual(['connect', 'error']);
    expect(late.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect(upstream.requests.map((r) => r.head.split(' ')[1])).toEqual(['/under-way', '/late']);
    // Never early; late by at most the sweep (a tenth of the timeout) and this machine's lag.
    expect(elapsed).toBeGreaterThanOrEqual(299);
    expect(elapsed).toBeLessThan(1_500);
    await expect.poll(() => upstream.closedConnections()).toBe(2);
  });

  it('fails a waiting request whose timeout ran out before a connection came free, without sending it', async () => {
    // The one connection streams /a (each chunk moves /a's timeout on) until just after /b's
    // timeout has run out, then frees up: /b must fail, not go out on it. The sweep runs every
    // 200 ms from the pool's creation and the requests go 100 ms after it, so /b's deadline falls
    // between two sweeps and /a ends before the next: the pool's own check must catch /b.
    let finishAfter = Infinity;
    const upstream = await startRawUpstream((_, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const timer = setInterval(() => {
        if (performance.now() < finishAfter) socket.write('1\r\nb\r\n');
        else {
          clearInterval(timer);
          socket.write('0\r\n\r\n');
        }
      }, 20);
    });
    const pool = createPool(upstream.port, { connections: 1, responseTimeoutMs: 2_000 });
    await delay(100);

    const streaming = send(pool, { path: '/a' });
    const waiting = send(pool, { path: '/b' });
    finishAfter = performance.now() + 2_000 + 30;
    await settled(streaming);
    await settled(waiting);
    await delay(50);

    expect(streaming.events.at(-1)).toBe('complete');
    expect(waiting.events).toEqual(['connect', 'error']);
    expect(waiting.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect(upstream.requests.map((r) => r.head.split(' ')[1])).toEqual(['/a']);
  });

  it('times out an answer whose body stops, and keeps one that keeps streaming past the timeout', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\na');
      if (request.connection === 1) return; // stalls after one byte
      let sent = 1;
      const timer = setInterval(() => {
        socket.write('b');
        sent += 1;
        if (sent === 6) clearInterval(timer);
      }, 100);
    });
    const pool = createPool(upstream.port, { responseTimeoutMs: 250 });

    const stalled = await settled(send(pool));
    const trickling = await settled(send(pool));

    expect(stalled.events).toEqual(['connect', 'headers', 'data', 'error']);
    expect(stalled.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    // 500 ms in all, but never 250 ms without a byte: the timer restarts with each one.
    expect(trickling.events).toEqual(COMPLETE);
    expect(trickling.body.toString()).toBe('abbbbb');
  });

  it('counts the time a request waits for a connection against its response timeout', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      setTimeout(() => socket.write(ok(request.head.split(' ')[1]!)), 300);
    });
    const pool = createPool(upstream.port, { connections: 1, responseTimeoutMs: 500 });

    const ahead = send(pool, { path: '/ahead' });
    const behind = send(pool, { path: '/behind' });
    await settled(ahead);
    await settled(behind);

    // Sent at ~300 ms and answered at ~600 ms: in time from its hand-over, too late from its dispatch.
    expect(ahead.events).toEqual(COMPLETE);
    expect(behind.events).toEqual(['connect', 'error']);
    expect(behind.code).toBe('UPSTREAM_RESPONSE_TIMEOUT');
    expect(upstream.requests.map((r) => r.head.split(' ')[1])).toEqual(['/ahead', '/behind']);
  });

  it('fails with UPSTREAM_CONNECT_TIMEOUT when the TLS handshake never completes', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket));
    await listen(silent);
    cleanups.push(() => closeServer(silent, sockets));
    const pool = createPool((silent.address() as AddressInfo).port, { connectTimeoutMs: 200 });

    const started = performance.now();
    const handler = await settled(send(pool));
    const elapsed = performance.now() - started;

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CONNECT_TIMEOUT');
    expect((handler.error as UpstreamError).isTimeout).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    expect(sockets.size).toBe(1);
  });

  it('fails with UPSTREAM_CONNECT_FAILED when nothing listens', async () => {
    const pool = createPool(await freePort());

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CONNECT_FAILED');
    expect((handler.error as UpstreamError).isTimeout).toBe(false);
    expect((handler.error?.cause as { code?: unknown } | undefined)?.code).toBe('ECONNREFUSED');
  });

  it('fails with UPSTREAM_CONNECT_FAILED when the upstream certificate is not from the trusted CA', async () => {
    const stranger = await ensureDevCertificates(await newStateDir());
    const upstream = await startRawUpstream(echoPath, stranger);
    const pool = createPool(upstream.port);

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CONNECT_FAILED');
    expect((handler.error as UpstreamError).isTimeout).toBe(false);
    // The stranger's server sends its chain up to its own CA, which the pool does not trust.
    expect((handler.error?.cause as { code?: unknown } | undefined)?.code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    expect(upstream.requests).toHaveLength(0);
  });

  // TLS 1.3: the upstream judges the client certificate after the client's handshake has
  // completed, so the refusal arrives as the connection closing (an alert or a plain end).
  it('is refused by an mTLS upstream when it has no client certificate: UPSTREAM_CLOSED, nothing sent', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port, { secureContext: createSecureContext({ ca: certs.caCert }) });

    const handler = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.code).toBe('UPSTREAM_CLOSED');
    expect(upstream.connections()).toBe(0);
    expect(upstream.requests).toHaveLength(0);
  });

  it('reports isTimeout only for the two timeout codes', () => {
    const codes: UpstreamErrorCode[] = [
      'UPSTREAM_CONNECT_TIMEOUT',
      'UPSTREAM_RESPONSE_TIMEOUT',
      'UPSTREAM_CONNECT_FAILED',
      'UPSTREAM_CLOSED',
      'UPSTREAM_BAD_RESPONSE',
      'UPSTREAM_BAD_REQUEST',
    ];
    expect(codes.filter((code) => new UpstreamError(code, 'x').isTimeout)).toEqual([
      'UPSTREAM_CONNECT_TIMEOUT',
      'UPSTREAM_RESPONSE_TIMEOUT',
    ]);
  });
});

describe('UpstreamPool: aborting', () => {
  it('aborted from inside onData: the reason arrives once, later, and the connection is dropped', async () => {
    const size = 1_000_000;
    const upstream = await startRawUpstream((request, socket) => {
      socket.write(request.connection === 1 ? ok(everyByte(size)) : ok('fresh'));
    });
    const pool = createPool(upstream.port);
    const reason = new Error('client went away');

    const aborted = await settled(
      send(
        pool,
        {},
        {
          onData: (_, handler) => {
            handler.abort(reason);
            // Aborting twice changes nothing.
            handler.abort(new Error('again'));
            return false;
          },
        },
      ),
    );
    await expect.poll(() => upstream.closedConnections()).toBe(1);
    const next = await settled(send(pool));

    expect(aborted.events).toEqual(['connect', 'headers', 'data', 'error']);
    expect(aborted.error).toBe(reason);
    expect(aborted.dataCalls).toBe(1);
    expect(aborted.body.length).toBeLessThan(size);
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('fresh');
    expect(upstream.connections()).toBe(2);
  });

  it('aborted while waiting for a connection: never sent, while the one ahead completes', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      setTimeout(() => socket.write(ok(request.head.split(' ')[1]!)), 100);
    });
    const pool = createPool(upstream.port, { connections: 1 });
    const reason = new Error('gave up waiting');

    const ahead = send(pool, { path: '/ahead' });
    const waiting = send(pool, { path: '/waiting' });
    waiting.abort(reason);
    await settled(waiting);
    expect(ahead.events).toEqual(['connect']);
    await settled(ahead);
    const after = await settled(send(pool, { path: '/after' }));

    expect(ahead.events).toEqual(COMPLETE);
    expect(ahead.body.toString()).toBe('/ahead');
    expect(waiting.events).toEqual(['connect', 'error']);
    expect(waiting.error).toBe(reason);
    expect(after.body.toString()).toBe('/after');
    expect(upstream.requests.map((r) => r.head.split(' ')[1])).toEqual(['/ahead', '/after']);
    expect(upstream.connections()).toBe(1);
  });

  it('aborted after it was sent, before any answer: the connection is dropped', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      if (request.connection > 1) socket.write(ok('fresh'));
    });
    const pool = createPool(upstream.port);
    const reason = new Error('stop');

    const handler = send(pool);
    await expect.poll(() => upstream.requests.length).toBe(1);
    handler.abort(reason);
    await settled(handler);
    await expect.poll(() => upstream.closedConnections()).toBe(1);
    const next = await settled(send(pool));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.error).toBe(reason);
    expect(next.events).toEqual(COMPLETE);
    expect(upstream.connections()).toBe(2);
  });

  it('aborted inside onConnect: the reason arrives later and nothing is sent', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port);
    const reason = new Error('already gone');

    const handler = await settled(send(pool, {}, { onConnect: (h) => h.abort(reason) }));

    expect(handler.events).toEqual(['connect', 'error']);
    expect(handler.error).toBe(reason);
    expect(upstream.connections()).toBe(0);
  });
});

describe('UpstreamPool: back-pressure', () => {
  it('reads nothing more after onData returns false until resume, then delivers the whole body', async () => {
    const body = everyByte(256 * 1024);
    const upstream = await startRawUpstream((_, socket) => socket.write(ok(body)));
    const pool = createPool(upstream.port);

    const handler = send(pool, {}, { onData: (_, h) => h.dataCalls > 1 });
    await expect.poll(() => handler.dataCalls).toBe(1);
    await delay(150);
    expect(handler.dataCalls).toBe(1);
    expect(handler.events).toEqual(['connect', 'headers', 'data']);
    handler.resume();
    await settled(handler);

    expect(handler.events).toEqual(COMPLETE);
    expect(handler.dataCalls).toBeGreaterThan(1);
    expect(handler.body.equals(body)).toBe(true);
  });

  it('delivers the whole body when every chunk asks for a pause and resume comes a tick later', async () => {
    const body = everyByte(300_000);
    const upstream = await startRawUpstream((_, socket) => socket.write(ok(body)));
    const pool = createPool(upstream.port);

    const handler = await settled(
      send(
        pool,
        {},
        {
          onData: (_, h) => {
            setImmediate(h.resume);
            return false;
          },
        },
      ),
    );

    expect(handler.events).toEqual(COMPLETE);
    expect(handler.body.equals(body)).toBe(true);
  });

  it('does not leave a connection paused for the next request when the last chunk asked for a pause', async () => {
    const upstream = await startRawUpstream((request, socket) => socket.write(ok(`answer ${request.index}`)));
    const pool = createPool(upstream.port, { connections: 1, responseTimeoutMs: 1_000 });

    // Like a client that stopped reading: it asks for a pause and never resumes.
    const paused = await settled(send(pool, {}, { onData: () => false }));
    const next = await settled(send(pool));

    expect(paused.events).toEqual(COMPLETE);
    expect(next.events).toEqual(COMPLETE);
    expect(next.body.toString()).toBe('answer 1');
    expect(upstream.connections()).toBe(1);
  });
  it("ignores a finished exchange's late resume: the next exchange on the connection stays paused", async () => {
    const body = everyByte(256 * 1024);
    const upstream = await startRawUpstream((request, socket) =>
      socket.write(request.index === 0 ? ok('small') : ok(body)),
    );
    const pool = createPool(upstream.port, { connections: 1 });

    const first = await settled(send(pool));
    const next = send(pool, {}, { onData: (_, h) => h.dataCalls > 1 });
    await expect.poll(() => next.dataCalls).toBe(1);
    first.resume(); // the first exchange's client drained long after its response ended
    await delay(150);
    expect(next.dataCalls).toBe(1);
    next.resume();
    await settled(next);

    expect(next.events).toEqual(COMPLETE);
    expect(next.body.equals(body)).toBe(true);
    expect(upstream.connections()).toBe(1);
  });
});

describe('UpstreamPool: refused requests', () => {
  it.each([
    ['CR LF', 'a\r\nx-injected: 1'],
    ['a lone LF', 'a\nx-injected: 1'],
    ['a NUL', 'a\0b'],
    ['a character above U+00FF, whose low byte is a line feed', 'a\u010ax-injected: 1'],
  ])('fails a header value holding %s with UPSTREAM_BAD_REQUEST and sends nothing', async (_, value) => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port, { connections: 1 });

    const refused = await settled(
      send(pool, { path: '/refused', headers: ['x-ok', 'fine', 'x-evil', value] }),
    );
    const next = await settled(send(pool, { path: '/next' }));

    expect(refused.events).toEqual(['connect', 'error']);
    expect(refused.code).toBe('UPSTREAM_BAD_REQUEST');
    expect(next.events).toEqual(COMPLETE);
    expect(upstream.requests.map((r) => r.head)).toEqual([
      `GET /next HTTP/1.1\r\nhost: 127.0.0.1:${upstream.port}\r\n\r\n`,
    ]);
  });
});

describe('UpstreamPool: close', () => {
  it('resolves once the request in flight has completed, and closes its connection', async () => {
    const upstream = await startRawUpstream((_, socket) => {
      setTimeout(() => socket.write(ok('late but whole')), 150);
    });
    const pool = createPool(upstream.port);
    const order: string[] = [];

    const handler = send(pool);
    void handler.done.then(() => order.push('exchange settled'));
    await expect.poll(() => upstream.requests.length).toBe(1);
    await within(pool.close(), 3_000, 'pool.close()');
    order.push('close resolved');
    await settled(handler);

    expect(order).toEqual(['exchange settled', 'close resolved']);
    expect(handler.events).toEqual(COMPLETE);
    expect(handler.body.toString()).toBe('late but whole');
    await expect.poll(() => upstream.closedConnections()).toBe(1);
  });

  it('closes idle connections at once', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port);

    await settled(send(pool));
    await within(pool.close(), 3_000, 'pool.close()');

    await expect.poll(() => upstream.closedConnections()).toBe(1);
  });

  it('still serves a request dispatched after close (a reload retires a pool under requests in flight), then closes its connection', async () => {
    const upstream = await startRawUpstream(echoPath);
    const pool = createPool(upstream.port);
    await within(pool.close(), 3_000, 'pool.close()');

    const late = await settled(send(pool, { path: '/late' }));

    expect(late.events).toEqual(COMPLETE);
    expect(late.body.toString()).toBe('/late');
    await expect.poll(() => upstream.closedConnections()).toBe(1);
  });

  it('still serves requests that were waiting for a connection when close was called', async () => {
    const upstream = await startRawUpstream((request, socket) => {
      setTimeout(() => socket.write(ok(`answer to ${request.head.split(' ')[1]!}`)), 100);
    });
    const pool = createPool(upstream.port, { connections: 1, responseTimeoutMs: 2_000 });

    const first = send(pool, { path: '/a' });
    const queued = send(pool, { path: '/b' });
    await expect.poll(() => upstream.requests.length).toBe(1);
    await within(pool.close(), 3_000, 'pool.close()');

    expect((await settled(first)).events).toEqual(COMPLETE);
    expect((await settled(queued)).events).toEqual(COMPLETE);
    expect(queued.body.toString()).toBe('answer to /b');
    expect(upstream.requests.map((r) => r.head.split(' ')[1])).toEqual(['/a', '/b']);
    await expect.poll(() => upstream.closedConnections()).toBe(1);
  });

  it('resolves every caller when close is called twice', async () => {
    const upstream = await startRawUpstream((_, socket) => {
      setTimeout(() => socket.write(ok('done')), 100);
    });
    const pool = createPool(upstream.port);

    const handler = send(pool);
    await expect.poll(() => upstream.requests.length).toBe(1);
    await within(Promise.all([pool.close(), pool.close()]), 3_000, 'both pool.close() calls');

    expect((await settled(handler)).events).toEqual(COMPLETE);
  });
});

describe('UpstreamPool: plain sidecar upstreams', () => {
  /** A plain HTTP/1.1 server that responds to every request with what it received. */
  async function startPlainUpstream(where: { path: string } | { port: 0; host: string }) {
    const heads: string[] = [];
    const server = createNetServer((socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (!text.includes('\r\n\r\n')) return;
        heads.push(text);
        text = '';
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain');
      });
    });
    await new Promise<void>((resolve) => server.listen(where, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { heads, port: 'path' in where ? 0 : (server.address() as AddressInfo).port };
  }

  it('talks plain HTTP/1.1 to a Unix socket, naming the URL’s host', async () => {
    const socketPath = join(await newStateDir(), 'notes.sock');
    const upstream = await startPlainUpstream({ path: socketPath });
    const pool = createPool(0, { origin: new URL('http://notes.internal'), secureContext: null, socketPath });
    const handler = await settled(send(pool, { path: '/health' }));
    expect(handler.events).toEqual(COMPLETE);
    expect(handler.body.toString()).toBe('plain');
    expect(upstream.heads).toEqual(['GET /health HTTP/1.1\r\nhost: notes.internal\r\n\r\n']);
    expect(await pool.probe()).toBe(true);
  });

  it('talks plain HTTP/1.1 to a loopback port', async () => {
    const upstream = await startPlainUpstream({ port: 0, host: '127.0.0.1' });
    const origin = new URL(`http://127.0.0.1:${upstream.port}`);
    const pool = createPool(0, { origin, secureContext: null });
    expect((await settled(send(pool))).body.toString()).toBe('plain');
  });

  it('refuses an https origin without a TLS context, and an http one with one', () => {
    expect(() => createPool(1, { secureContext: null })).toThrow(TypeError);
    expect(() => createPool(1, { origin: new URL('http://127.0.0.1:1') })).toThrow(TypeError);
  });
});
