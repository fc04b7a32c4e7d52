import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LimitsConfig } from '../../config/types.js';
import { ensureDevCertificates, type DevCertificates } from '../../tls/dev-certs.js';
import { GatewayListener, type TransportRefusal } from '../listener.js';
import type { FrontRequest } from './request.js';
import type { FrontResponse } from './response.js';

// The gateway's HTTP/1.1 front end on a real TLS listener, driven by raw bytes: framing,
// keep-alive, pipelining, deadlines and refusals, with a handler that records what reached it.

let certs: DevCertificates;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-front-'));
  certs = await ensureDevCertificates(stateDir);
});

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LIMITS: LimitsConfig = {
  maxHeaderBytes: 16_384,
  maxBodyBytes: 1_048_576,
  maxPathBytes: 2048,
  headersTimeoutMs: 400,
  requestTimeoutMs: 600,
  idleTimeoutMs: 500,
  maxConnections: 100,
  maxConnectionsPerAddress: 100,
  maxHandshakesPerAddressPerSecond: 1000,
};

type Handler = (req: FrontRequest, res: FrontResponse) => void;

interface Front {
  port: number;
  listener: GatewayListener;
  /** Requests that reached the handler, in order. */
  seen: FrontRequest[];
  /** Responses reported closed, with whether they were sent whole. */
  closed: { res: FrontResponse; sent: boolean }[];
  refusals: TransportRefusal[];
}

async function startFront(
  handler: Handler,
  limits: Partial<LimitsConfig> = {},
  host = '127.0.0.1',
): Promise<Front> {
  const seen: FrontRequest[] = [];
  const closed: Front['closed'] = [];
  const refusals: TransportRefusal[] = [];
  const listener = new GatewayListener({
    host,
    port: 0,
    tls: { cert: certs.serverCert, key: certs.serverKey },
    limits: { ...LIMITS, ...limits },
    onRequest: (req, res) => {
      seen.push(req);
      handler(req, res);
    },
    onClosed: (res) => closed.push({ res, sent: res.sent }),
    onTransportRefusal: (refusal) => refusals.push(refusal),
  });
  const { port } = await listener.listen();
  cleanups.push(() => listener.close(200));
  return { port, listener, seen, closed, refusals };
}

/** Answers `ok <method> <url>` with a Content-Length. */
const responseOk: Handler = (req, res) => {
  res.writeHead(200, [
    'content-type',
    'text/plain',
    'content-length',
    String(`ok ${req.method} ${req.url}`.length),
  ]);
  res.end(`ok ${req.method} ${req.url}`);
};

/** Reads the whole body, then sends it back with a Content-Length. */
const responseWithBody: Handler = (req, res) => {
  const parts: Buffer[] = [];
  req.readBody({
    onData: (chunk) => parts.push(chunk),
    onEnd: () => {
      const body = Buffer.concat(parts).toString();
      res.writeHead(200, ['content-length', String(body.length)]);
      res.end(body);
    },
    onAbort: () => res.destroy(),
  });
};

interface Client {
  socket: TLSSocket;
  /** Everything received so far, as latin1. */
  text(): string;
  /** Resolves once `predicate` holds for what was received, or the connection ended. */
  until(predicate: (text: string) => boolean, ms?: number): Promise<string>;
  ended: Promise<void>;
}

async function open(port: number, host = '127.0.0.1'): Promise<Client> {
  const socket = connect({ host, port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    for (const waiter of waiters.splice(0)) waiter();
  });
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void ended.then(() => {
    for (const waiter of waiters.splice(0)) waiter();
  });
  let isEnded = false;
  void ended.then(() => (isEnded = true));
  cleanups.push(async () => {
    socket.destroy();
  });
  return {
    socket,
    text: () => received,
    ended,
    until: async (predicate, ms = 3_000) => {
      const deadline = Date.now() + ms;
      while (!predicate(received) && !isEnded) {
        if (Date.now() > deadline) throw new Error(`no matching answer within ${ms} ms; got: ${received}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received;
    },
  };
}

interface HttpResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/** Splits received bytes into answers, framed by Content-Length or chunked encoding (or the end). */
function responses(text: string, headOnly = false): HttpResponse[] {
  const out: HttpResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    rest = rest.slice(end + 4);
    const length = headers.find(([name]) => name === 'content-length')?.[1];
    const chunked = headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked');
    let body = '';
    if (headOnly || status === 100 || status === 204 || status === 304) body = '';
    else if (length !== undefined) {
      body = rest.slice(0, Number(length));
      rest = rest.slice(Number(length));
    } else if (chunked) {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, lineEnd), 16);
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

const header = (response: HttpResponse, name: string): string | undefined =>
  response.headers.find(([n]) => n === name)?.[1];

describe('front connection over real TLS', () => {
  it('serves several requests on one kept-alive connection, each with a Date and no close', async () => {
    const front = await startFront(responseOk);
    const client = await open(front.port);
    client.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    await client.until((t) => responses(t).length === 1);
    client.socket.write('POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n');
    const got = responses(await client.until((t) => responses(t).length === 2));
    expect(got.map((a) => [a.status, a.body])).toEqual([
      [200, 'ok GET /a'],
      [200, 'ok POST /b'],
    ]);
    expect(header(got[0]!, 'date')).toMatch(/GMT$/);
    expect(header(got[0]!, 'connection')).toBeUndefined();
    expect(client.socket.destroyed).toBe(false);
    expect(front.closed.map((c) => c.sent)).toEqual([true, true]);
  });

  it('answers pipelined requests in order, each handed over only after the previous answer', async () => {
    const order: string[] = [];
    const front = await startFront((req, res) => {
      order.push(`start ${req.url}`);
      // The first response is slow: the second request must wait for it.
      setTimeout(
        () => {
          order.push(`end ${req.url}`);
          responseOk(req, res);
        },
        req.url === '/slow' ? 100 : 0,
      );
    });
    const client = await open(front.port);
    client.socket.write(
      'GET /slow HTTP/1.1\r\nhost: x\r\n\r\nGET /fast HTTP/1.1\r\nhost: x\r\n\r\nGET /last HTTP/1.1\r\nhost: x\r\n\r\n',
    );
    const got = responses(await client.until((t) => responses(t).length === 3));
    expect(got.map((a) => a.body)).toEqual(['ok GET /slow', 'ok GET /fast', 'ok GET /last']);
    expect(order).toEqual([
      'start /slow',
      'end /slow',
      'start /fast',
      'end /fast',
      'start /last',
      'end /last',
    ]);
  });

  it('reads a chunked request body, and sends 100 Continue only when the body is asked for', async () => {
    let release!: () => void;
    const asked = new Promise<void>((resolve) => (release = resolve));
    const front = await startFront((req, res) => {
      void asked.then(() => responseWithBody(req, res));
    });
    const client = await open(front.port);
    client.socket.write(
      'POST /up HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n',
    );
    await delay(100);
    expect(client.text()).toBe(''); // not yet asked for: no 100 Continue
    release();
    await client.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    client.socket.write('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const got = responses(await client.until((t) => responses(t).length === 2));
    expect(got[1]).toMatchObject({ status: 200, body: 'hello world' });
  });

  it('refuses an HTTP/1.1 request with no Host, and one with too many header fields, before the handler', async () => {
    const front = await startFront(responseOk);
    const noHost = await open(front.port);
    noHost.socket.write('GET /a HTTP/1.1\r\n\r\n');
    await noHost.ended;
    expect(responses(noHost.text())[0]).toMatchObject({ status: 400 });
    expect(header(responses(noHost.text())[0]!, 'content-type')).toBe('application/problem+json');

    const many = await open(front.port);
    many.socket.write(`GET /a HTTP/1.1\r\nhost: x\r\n${'a: b\r\n'.repeat(2001)}\r\n`);
    await many.ended;
    expect(responses(many.text())[0]).toMatchObject({ status: 431 });
    expect(front.seen).toHaveLength(0);
    expect(front.refusals.map((r) => r.code)).toEqual([
      'GH_TRANSPORT_BAD_REQUEST',
      'GH_TRANSPORT_HEADERS_TOO_LARGE',
    ]);
  });

  it('answers an expectation other than 100-continue with 417 before the handler, and serves 100-continue', async () => {
    const front = await startFront(responseOk);
    for (const value of ['something-else', '100-continue, x', '']) {
      const client = await open(front.port);
      client.socket.write(`POST /a HTTP/1.1\r\nhost: x\r\nexpect: ${value}\r\ncontent-length: 2\r\n\r\nhi`);
      await client.ended;
      const refused = responses(client.text());
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ status: 417 });
      expect(header(refused[0]!, 'content-type')).toBe('application/problem+json');
      expect(JSON.parse(refused[0]!.body)).toMatchObject({ status: 417, title: 'Expectation failed' });
      if (value !== '') expect(refused[0]!.body).not.toContain(value);
    }
    expect(front.seen).toHaveLength(0);
    expect(front.refusals.map((r) => r.code)).toEqual(Array(3).fill('GH_TRANSPORT_EXPECTATION_FAILED'));

    const client = await open(front.port);
    client.socket.write('GET /b HTTP/1.1\r\nhost: x\r\nexpect: 100-Continue\r\n\r\n');
    const served = responses(await client.until((t) => responses(t).length === 1));
    expect(served[0]).toMatchObject({ status: 200, body: 'ok GET /b' });
    expect(front.seen).toHaveLength(1);
  });

  it('refuses a malformed request line with 400 and a header section over the limit with 431', async () => {
    const front = await startFront(responseOk, { maxHeaderBytes: 1024 });
    const bad = await open(front.port);
    bad.socket.write('GET /a HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n');
    await bad.ended;
    const refused = responses(bad.text())[0]!;
    expect(refused.status).toBe(400);
    // A generic problem naming the request, never the parser's own error code or reason.
    expect(JSON.parse(refused.body)).toMatchObject({
      status: 400,
      instance: `urn:uuid:${header(refused, 'x-request-id')}`,
    });
    expect(bad.text()).not.toMatch(/HPE_|llhttp|parse error/i);
    expect(front.refusals[0]!.reason).toMatch(/HPE_/); // the detail stays in the record
    const big = await open(front.port);
    big.socket.write(`GET /a HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(2000)}\r\n\r\n`);
    await big.ended;
    expect(responses(big.text())[0]!.status).toBe(431);
    expect(front.seen).toHaveLength(0);
  });

  it.each([
    [
      'a request that asked to close',
      'GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n',
    ],
    [
      'an answer given without reading the body',
      'POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n',
    ],
  ])('closes after %s, and reads nothing after it', async (_case, bytes) => {
    const front = await startFront(responseOk);
    const client = await open(front.port);
    client.socket.write(bytes);
    await client.ended;
    const got = responses(client.text());
    expect(got).toHaveLength(1);
    expect(header(got[0]!, 'connection')).toBe('close');
    expect(front.seen.map((r) => r.url)).toEqual(['/a']);
  });

  it('frames an answer with no length as chunked for HTTP/1.1 and by closing for HTTP/1.0', async () => {
    const front = await startFront((_req, res) => {
      res.writeHead(200, ['content-type', 'text/plain']);
      res.write(Buffer.from('part one, '));
      setTimeout(() => res.end(Buffer.from('part two')), 20);
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: front.port, path: '/s', rejectUnauthorized: false, agent: false },
        (res) => {
          expect(res.headers['transfer-encoding']).toBe('chunked');
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('part one, part two');

    const old = await open(front.port);
    old.socket.write('GET /s HTTP/1.0\r\n\r\n');
    await old.ended;
    const got = responses(old.text());
    expect(got[0]).toMatchObject({ status: 200, body: 'part one, part two' });
    expect(header(got[0]!, 'connection')).toBe('close');
  });

  it('sends no body with a HEAD answer, whatever the handler passes', async () => {
    const front = await startFront((_req, res) => {
      res.writeHead(200, ['content-length', '5']);
      res.end('hello');
    });
    const client = await open(front.port);
    client.socket.write('HEAD /a HTTP/1.1\r\nhost: x\r\n\r\nGET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    const text = await client.until((t) => t.endsWith('hello'));
    const [head, rest] = [
      text.slice(0, text.indexOf('\r\n\r\n') + 4),
      text.slice(text.indexOf('\r\n\r\n') + 4),
    ];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(rest).toMatch(/^HTTP\/1\.1 200 OK\r\n/); // the GET's answer follows directly
  });

  it('leaves out a header value that could split the answer', async () => {
    const front = await startFront((_req, res) => {
      res.writeHead(200, [
        'x-ok',
        'fine',
        'x-bad',
        'a\r\nset-cookie: evil=1',
        'x-bad name',
        'v',
        'content-length',
        '0',
      ]);
      res.end();
    });
    const client = await open(front.port);
    client.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    const got = responses(await client.until((t) => responses(t).length === 1))[0]!;
    expect(header(got, 'x-ok')).toBe('fine');
    expect(got.headers.map(([name]) => name)).not.toContain('set-cookie');
    expect(got.headers.map(([name]) => name)).not.toContain('x-bad');
  });

  it('joins repeated headers, keeps the first Authorization, and takes a __proto__ header as data', async () => {
    const front = await startFront(responseOk);
    const client = await open(front.port);
    client.socket.write(
      'GET /a HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nAuthorization: one\r\nauthorization: two\r\n' +
        'Cookie: c=1\r\ncookie: d=2\r\n__proto__: p\r\n\r\n',
    );
    await client.until((t) => responses(t).length === 1);
    const headers = front.seen[0]!.headers;
    expect(headers.accept).toBe('a, b');
    expect(headers.authorization).toBe('one');
    expect(headers.cookie).toBe('c=1; d=2');
    expect(headers['__proto__']).toBe('p');
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect(front.seen[0]!.rawHeaders).toContain('Authorization');
  });
});

describe('front connection under pipelining and clients that do not read', () => {
  const burst = (count: number, prefix = '/r'): string =>
    Array.from({ length: count }, (_, i) => `GET ${prefix}${i} HTTP/1.1\r\nhost: x\r\n\r\n`).join('');

  it.each([34, 200, 1000])(
    'answers %i requests sent in one write, in order, none dropped, the connection kept',
    async (count) => {
      const front = await startFront((req, res) => setImmediate(() => responseOk(req, res)));
      const client = await open(front.port);
      client.socket.write(burst(count));
      const got = responses(await client.until((t) => responses(t).length === count, 10_000));
      expect(got.map((a) => a.body)).toEqual(Array.from({ length: count }, (_, i) => `ok GET /r${i}`));
      expect(got.every((a) => header(a, 'connection') === undefined)).toBe(true);
      expect(client.socket.destroyed).toBe(false);
      expect(front.closed.every((c) => c.sent)).toBe(true);
    },
  );

  it('never holds more than a bounded queue of parsed requests, whatever the burst', async () => {
    let most = 0;
    const front = await startFront((req, res) => {
      // Requests handed over but not answered yet, plus this one: the handler sees one at a time.
      most = Math.max(most, front.seen.length - front.closed.length);
      setTimeout(() => responseOk(req, res), 1);
    });
    const client = await open(front.port);
    client.socket.write(burst(300));
    await client.until((t) => responses(t).length === 300, 10_000);
    expect(most).toBe(1);
  });

  it('stops starting requests for a client that reads no answers, then cuts it off', async () => {
    const big = 'x'.repeat(32_768);
    const front = await startFront((_req, res) => {
      res.writeHead(200, ['content-length', String(big.length)]);
      res.end(big);
    });
    const client = await open(front.port);
    client.socket.pause(); // reads nothing: answers pile up in the kernel, then in the gateway
    const sent = 4000;
    client.socket.write(burst(sent));
    let handled = -1;
    for (let i = 0; i < 40 && front.seen.length !== handled; i += 1) {
      handled = front.seen.length;
      await delay(100);
    }
    // What the kernel buffers take, plus MAX_UNSENT_BYTES and one response: far from all of them.
    expect(handled).toBeLessThan(sent / 4);
    // requestTimeoutMs (600) with nothing taken, found by the sweep: the connection is cut.
    await delay(1_500);
    client.socket.resume();
    await client.ended;
    expect(front.seen.length).toBe(handled);
    expect(responses(client.text()).length).toBeLessThan(handled + 1);
  });
});

describe('front door: one address cannot take every slot', () => {
  /** A TCP connection that has sent nothing yet: it holds a slot until the header timeout. */
  const idle = (port: number, host: string): Promise<{ closed: Promise<number> }> =>
    new Promise((resolve, reject) => {
      const socket = netConnect({ host, port }, () => {
        const started = Date.now();
        const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)));
        resolve({ closed });
      });
      socket.on('error', () => undefined);
      socket.once('error', reject);
      cleanups.push(async () => {
        socket.destroy();
      });
    });

  it('closes connections over the per-address cap at once, while another address still gets in', async () => {
    const front = await startFront(responseOk, { maxConnectionsPerAddress: 3 }, '::');
    const held = [];
    for (let i = 0; i < 3; i += 1) held.push(await idle(front.port, '127.0.0.1'));
    const over = await idle(front.port, '127.0.0.1');
    // Closed by the gateway right away, not after the 400 ms header timeout.
    expect(await over.closed).toBeLessThan(300);
    // Another address (here ::1) is served while the first holds its three.
    const honest = await open(front.port, '::1');
    honest.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(responses(await honest.until((t) => responses(t).length === 1))[0]!.body).toBe('ok GET /a');
    expect(front.refusals.map((r) => [r.code, r.clientAddress])).toEqual([
      ['GH_LIMIT_CONCURRENCY', '::ffff:127.0.0.1'],
    ]);
    expect(front.refusals[0]!.reason).toMatch(/^over 3 open connections from 127\.0\.0\.1/);
  });

  it('bounds the new connections a second one address may open', async () => {
    const front = await startFront(responseOk, { maxHandshakesPerAddressPerSecond: 2 });
    const attempts = await Promise.all(Array.from({ length: 8 }, () => idle(front.port, '127.0.0.1')));
    const lifetimes = await Promise.all(attempts.map((a) => a.closed));
    // A burst of two seconds' worth (4) waits for the header timeout; the rest are closed at once.
    expect(lifetimes.filter((ms) => ms < 300)).toHaveLength(4);
  });
});

describe('front connection deadlines and shutdown', () => {
  it('answers 408 to a client whose headers are too slow, and never calls the handler', async () => {
    const front = await startFront(responseOk);
    const client = await open(front.port);
    client.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n');
    await client.ended;
    expect(responses(client.text())[0]!.status).toBe(408);
    expect(front.seen).toHaveLength(0);
    expect(front.refusals.map((r) => r.code)).toEqual(['GH_TRANSPORT_TIMEOUT']);
  });

  it('tells the body reader a body that stops arriving has timed out', async () => {
    let aborted: boolean | null = null;
    const front = await startFront((req, res) => {
      req.readBody({
        onData: () => undefined,
        onEnd: () => res.end(),
        onAbort: (timedOut) => {
          aborted = timedOut;
          res.writeHead(408, ['content-length', '0']);
          res.end();
        },
      });
    });
    const client = await open(front.port);
    client.socket.write('POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc');
    await client.ended;
    expect(aborted).toBe(true);
    expect(responses(client.text())[0]!.status).toBe(408);
  });

  it('does not time out a pipelined request whose body waits behind a slow answer', async () => {
    // requestTimeoutMs is 600: the first response takes longer, and the second request's body is
    // not read until it has gone out.
    const front = await startFront((req, res) => {
      if (req.url === '/slow') setTimeout(() => responseOk(req, res), 1000);
      else responseWithBody(req, res);
    });
    const client = await open(front.port);
    client.socket.write(
      'GET /slow HTTP/1.1\r\nhost: x\r\n\r\nPOST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.socket.write('hello');
    const got = responses(await client.until((t) => responses(t).length === 2));
    expect(got.map((a) => [a.status, a.body])).toEqual([
      [200, 'ok GET /slow'],
      [200, 'hello'],
    ]);
    expect(front.refusals).toEqual([]);
  });

  it('closes a kept-alive connection left idle', async () => {
    const front = await startFront(responseOk);
    const client = await open(front.port);
    client.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    await client.until((t) => responses(t).length === 1);
    const started = Date.now();
    await client.ended;
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(responses(client.text())).toHaveLength(1);
  });

  it('reports an answer cut short when the client goes away first', async () => {
    const front = await startFront(() => undefined); // never answers
    const client = await open(front.port);
    client.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    await delay(50);
    client.socket.destroy();
    await delay(100);
    expect(front.closed).toHaveLength(1);
    expect(front.closed[0]!.sent).toBe(false);
  });

  it('on close, lets a body still arriving finish and answers it, then closes', async () => {
    const front = await startFront(responseWithBody);
    const client = await open(front.port);
    client.socket.write('POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello');
    await delay(50);
    const closing = front.listener.close(5_000);
    await delay(50);
    client.socket.write('world');
    await client.ended;
    const got = responses(client.text());
    expect(got[0]).toMatchObject({ status: 200, body: 'helloworld' });
    expect(header(got[0]!, 'connection')).toBe('close');
    await closing;
  });

  it('on close, finishes the request in flight, closes the idle connection, then resolves', async () => {
    let responseLater!: () => void;
    const front = await startFront((req, res) => {
      responseLater = () => responseOk(req, res);
    });
    const busy = await open(front.port);
    const idle = await open(front.port);
    busy.socket.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n');
    await delay(50);
    let closed = false;
    const closing = front.listener.close(5_000).then(() => (closed = true));
    await idle.ended;
    expect(closed).toBe(false);
    responseLater();
    await busy.ended;
    const got = responses(busy.text());
    expect(got[0]!.body).toBe('ok GET /a');
    expect(header(got[0]!, 'connection')).toBe('close');
    await closing;
  });
});
