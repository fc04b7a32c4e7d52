import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_TRACE } from '../support/test-upstream.js';
import { readLog, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { expectProblem, PROBLEM_BASE } from '../support/problems.js';

describe('gateway core over real TLS listeners', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      limits: { maxHeaderBytes: 4096, maxBodyBytes: 1024, headersTimeoutMs: 600, requestTimeoutMs: 1500 },
      upstream: { responseTimeoutMs: 400, maxResponseBytes: 100000 },
      slowMs: 1500,
      bigBytes: 200000,
    });
  });
  afterAll(async () => h.close());

  it('forwards a declared operation over mTLS and relays the answer with security headers', async () => {
    const response = await rawRequest(
      h.port,
      h.certs.caCert,
      'GET /items/42?color=red HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive, x-secret-hop\r\n' +
        'x-secret-hop: drop me\r\nx-forwarded-for: 6.6.6.6\r\n\r\n',
    );
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ id: '42', name: 'widget' });
    expect(response.headers['server']).toBeUndefined();
    expect(response.headers['x-powered-by']).toBeUndefined();
    expect(response.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    const seen = h.upstream.received.at(-1)!;
    expect(seen.url).toBe('/items/42?color=red');
    expect(seen.clientCertCn).toBe('gatehouse-gateway');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-request-id']).toBe(response.headers['x-request-id']);
    expect(seen.headers['x-secret-hop']).toBeUndefined();
  });

  it("keeps the gateway's security headers when the upstream's Connection header names them", async () => {
    const before = h.upstream.hits('/items/hop-names');
    const response = await h.get('/items/hop-names');
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ id: 'hop-names', name: 'widget' });
    expect(response.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(response.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers['x-upstream-hop']).toBeUndefined();
    expect(h.upstream.hits('/items/hop-names')).toBe(before + 1);
  });

  it('relays a HEAD answer whose length is over the size limit: no body follows it', async () => {
    const before = h.upstream.hits('/big');
    const response = await h.get('/big', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers['content-length']).toBe('200000');
    expect(response.text).toBe('');
    expect(h.upstream.hits('/big')).toBe(before + 1);
  });

  it('answers 404 for an undeclared path without reaching the upstream', async () => {
    const before = h.upstream.hits();
    expectProblem(await h.get('/debug'), 404, 'route-not-found');
    expectProblem(await h.get('/items'), 404, 'route-not-found');
    expect(h.upstream.hits()).toBe(before);
  });

  it('answers 405 with Allow for an undeclared method without reaching the upstream', async () => {
    const before = h.upstream.hits();
    const response = await h.get('/items/1', { method: 'DELETE' });
    expectProblem(response, 405, 'route-method-not-allowed');
    expect(response.headers['allow']).toBe('GET');
    expect(h.upstream.hits()).toBe(before);
  });

  it.each([
    ['/items/..%2f..%2fetc%2fpasswd'],
    ['/items/%2e%2e'],
    ['//items/1'],
    ['/items//1'],
    ['/items/a%5cb'],
    ['/items/a%00'],
    ['/items/%zz'],
  ])('refuses the crafted path %s with 400 before the upstream', async (target) => {
    const before = h.upstream.hits();
    expectProblem(await rawGet(h.port, target, h.certs.caCert), 400, 'route-bad-path');
    expect(h.upstream.hits()).toBe(before);
  });

  it('refuses an overlong path with 414 and a method override header with 400', async () => {
    const before = h.upstream.hits();
    expectProblem(await h.get('/items/' + 'a'.repeat(2100)), 414, 'transport-uri-too-long');
    expectProblem(
      await h.get('/items/1', { headers: { 'x-http-method-override': 'DELETE' } }),
      400,
      'route-bad-path',
    );
    expect(h.upstream.hits()).toBe(before);
  });

  it('refuses oversized headers with 431 and oversized bodies with 413, upstream never reached', async () => {
    const before = h.upstream.hits();
    expectProblem(
      await h.get('/items/1', { headers: { 'x-fill': 'a'.repeat(5000) } }),
      431,
      'transport-headers-too-large',
    );
    expectProblem(
      await h.get('/echo', { method: 'POST', body: 'x'.repeat(2000) }),
      413,
      'transport-body-too-large',
    );
    const chunked = await rawRequest(
      h.port,
      h.certs.caCert,
      'POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n' +
        '400\r\n' +
        'y'.repeat(1024) +
        '\r\n' +
        '10\r\n' +
        'z'.repeat(16) +
        '\r\n0\r\n\r\n',
    );
    expectProblem(chunked, 413, 'transport-body-too-large');
    expect(h.upstream.hits()).toBe(before);
  });

  it.each([
    [
      'Content-Type twice',
      'content-type: application/json\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n',
      400,
      'transport-bad-request',
    ],
    [
      'Host twice',
      'host: evil.example\r\ncontent-type: application/json\r\ncontent-length: 7\r\n',
      400,
      'transport-bad-request',
    ],
    [
      'Idempotency-Key twice',
      'idempotency-key: a\r\nIdempotency-Key: b\r\ncontent-type: application/json\r\ncontent-length: 7\r\n',
      400,
      'transport-bad-request',
    ],
    [
      'Authorization twice',
      'authorization: Bearer a\r\nauthorization: Bearer b\r\ncontent-type: application/json\r\ncontent-length: 7\r\n',
      400,
      'transport-bad-request',
    ],
    [
      'a content coding',
      'content-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: 7\r\n',
      415,
      'validate-media-type',
    ],
    [
      'a transfer coding other than chunked',
      'content-type: application/json\r\ntransfer-encoding: gzip, chunked\r\n',
      501,
      'transport-not-implemented',
    ],
  ])('refuses %s before the upstream, with a generic problem', async (_case, headers, status, type) => {
    const before = h.upstream.hits();
    const chunked = headers.includes('transfer-encoding');
    const body = chunked ? '7\r\n{"a":1}\r\n0\r\n\r\n' : '{"a":1}';
    const response = await rawRequest(
      h.port,
      h.certs.caCert,
      `POST /echo HTTP/1.1\r\nhost: x\r\n${headers}\r\n${body}`,
    );
    expectProblem(response, status, type);
    expect(response.text).not.toMatch(/gzip|evil|text\/plain/);
    expect(h.upstream.hits()).toBe(before);
  });

  it('passes a body within the limit through unchanged', async () => {
    const response = await h.get('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(response.status).toBe(200);
    expect((response.json() as { body: string }).body).toBe('{"a":1}');
  });

  it('refuses a TLS 1.1 handshake', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: h.port,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      socket.once('secureConnect', () => resolve(`connected with ${String(socket.getProtocol())}`));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`));
    });
    expect(outcome).toMatch(/^refused/);
  });

  it('negotiates TLS 1.3 and TLS 1.2 with an AEAD cipher', async () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const info = await new Promise<{ protocol: string | null; cipher: string }>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: h.port,
          ca: h.certs.caCert,
          minVersion: version,
          maxVersion: version,
        });
        socket.once('secureConnect', () => {
          resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(info.protocol).toBe(version);
      expect(info.cipher).toMatch(/GCM|CHACHA20/);
    }
  });

  it('refuses a plaintext HTTP request with a 400 problem and closes, never redirecting', async () => {
    const before = h.upstream.hits();
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect(h.port, '127.0.0.1', () =>
        socket.write('GET /items/1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer s3cret\r\n\r\n'),
      );
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).not.toMatch(/location:/i);
    expect(raw).toContain(`"type":"${PROBLEM_BASE}transport-plaintext"`);
    expect(h.upstream.hits()).toBe(before);
  });

  it('cuts off a client that sends its headers too slowly', async () => {
    const started = Date.now();
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: h.port, ca: h.certs.caCert }, () => {
        socket.write('GET /items/1 HTTP/1.1\r\nhost: x\r\n');
        const drip = setInterval(() => socket.write('x-drip: 1\r\n'), 100);
        socket.once('close', () => clearInterval(drip));
      });
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => undefined);
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(5000);
    expect(outcome === '' || /^HTTP\/1\.1 408 /.test(outcome)).toBe(true);
  });

  it('turns an upstream 500 with a stack trace into a generic 502', async () => {
    const response = await h.get('/crash');
    expectProblem(response, 502, 'upstream-bad-response');
    expect(response.text).not.toContain('db-internal');
    expect(response.text).not.toContain('node_modules');
    expect(STACK_TRACE).toContain('db-internal');
  });

  it('answers 504 when the upstream is too slow and 502 when its answer is too large', async () => {
    expectProblem(await h.get('/slow'), 504, 'upstream-timeout');
    expectProblem(await h.get('/big'), 502, 'upstream-response-too-large');
  });

  it('cuts the connection when an undeclared-length answer outgrows the limit mid-stream', async () => {
    // The status line has already gone out: cutting the connection is the only way to say
    // "this response is incomplete", so the client must see an error, not a short 200.
    await expect(h.get('/big-chunked')).rejects.toThrow();
    const journey = h.gateway.journeys.recent(1)[0]!;
    expect(journey).toMatchObject({ route: '/big-chunked', code: 'GH_UPSTREAM_RESPONSE_TOO_LARGE' });
  });

  it('relays redirects without following them, and streams chunked answers', async () => {
    const redirect = await h.get('/redirect');
    expect(redirect.status).toBe(302);
    expect(redirect.headers['location']).toBe('https://evil.example/steal');
    const stream = await h.get('/stream');
    expect(stream.status).toBe(200);
    expect(stream.text).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  });

  it('never writes credentials, cookies or query strings to the access log', async () => {
    await h.get('/items/7?api_key=gk_test_leaky', {
      headers: { authorization: 'Bearer tok3n-v4lue', cookie: 'sid=c00kie' },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const log = await readLog(h);
    expect(log).toContain('"route":"/items/{id}"');
    for (const secret of ['tok3n-v4lue', 'c00kie', 'gk_test_leaky', 's3cret'])
      expect(log).not.toContain(secret);
  });

  it('keeps a journey record saying which stage decided', async () => {
    const response = await h.get('/nowhere');
    const journey = h.gateway.journeys.find(String(response.headers['x-request-id']));
    expect(journey).toMatchObject({ status: 404, decidedBy: 'route', code: 'GH_ROUTE_NOT_FOUND' });
    const served = await h.get('/items/9');
    expect(h.gateway.journeys.find(String(served.headers['x-request-id']))).toMatchObject({
      status: 200,
      decidedBy: 'respond',
      route: '/items/{id}',
      passed: [
        'transport',
        'route',
        'pre-auth-limit',
        'authenticate',
        'rate-limit',
        'authorize',
        'body',
        'validate',
        'forward',
      ],
    });
  });
});

describe('gateway core with the upstream down', () => {
  it('answers 502 when the upstream cannot be reached', async () => {
    const h = await startHarness({ upstreamUrl: 'https://127.0.0.1:1', upstream: { connectTimeoutMs: 500 } });
    try {
      expectProblem(await h.get('/items/1'), 502, 'upstream-unreachable');
    } finally {
      await h.close();
    }
  });
});

/** A request with a raw target, bypassing client-side URL normalisation. */
function rawGet(port: number, target: string, ca: string): Promise<HttpResponse> {
  return rawRequest(port, ca, `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`);
}

function rawRequest(port: number, ca: string, payload: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => socket.write(payload));
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
      const parsed = parseRaw(data);
      if (parsed !== null) {
        socket.destroy();
        resolve(parsed);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after: ${data}`)));
  });
}

function parseRaw(data: string): HttpResponse | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const text = data.slice(end + 4);
  if (Buffer.byteLength(text) < length) return null;
  return { status: Number(lines[0]!.split(' ')[1]), headers, text, json: () => JSON.parse(text) as unknown };
}
