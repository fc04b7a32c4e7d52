// Request smuggling and framing, from the outside: raw bytes over TLS to a gateway in front of a
// recording upstream. Each case says what the client gets and asserts what reached the upstream;
// the hidden request of every smuggling attempt targets /items/SMUGGLED, which must never arrive.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const SMUGGLED = 'GET /items/SMUGGLED HTTP/1.1\r\nhost: x\r\n\r\n';

/** Sends `payload` on a fresh connection; everything answered until close (or 1.5 s). */
function exchange(h: Harness, payload: string | Buffer): Promise<{ statuses: number[]; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: h.port, ca: h.certs.caCert }, () =>
      socket.write(payload),
    );
    let data = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses: [...data.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), text: data });
    };
    const timer = setTimeout(done, 1500);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('close', done);
    socket.on('error', (err) => (data === '' ? reject(err) : done()));
  });
}

const post = (headers: string, body: string): string =>
  `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${headers}\r\n${body}`;

/** [name, payload, the statuses the client gets] — none of these reaches the upstream at all. */
const REFUSED: [string, string, number[]][] = [
  [
    'CL.TE: Content-Length and Transfer-Encoding',
    post('content-length: 6\r\ntransfer-encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  [
    'TE.CL: Transfer-Encoding and Content-Length',
    post('transfer-encoding: chunked\r\ncontent-length: 4\r\n', `5c\r\n${SMUGGLED}0\r\n\r\n`),
    [400],
  ],
  [
    'TE.TE: a second, unknown coding',
    post('transfer-encoding: chunked\r\ntransfer-encoding: x\r\n', `0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  ['Transfer-Encoding: xchunked', post('transfer-encoding: xchunked\r\n', `0\r\n\r\n${SMUGGLED}`), [501]],
  [
    'Transfer-Encoding: chunked, identity',
    post('transfer-encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  [
    'Transfer-Encoding with a space before the colon',
    post('transfer-encoding : chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  [
    'Transfer-Encoding with a vertical tab',
    post('transfer-encoding: \x0bchunked\r\n', `0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  [
    'Transfer-Encoding on an HTTP/1.0 request',
    `POST /echo HTTP/1.0\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    [400],
  ],
  [
    'two different Content-Lengths',
    post('content-length: 2\r\ncontent-length: 40\r\n', `{}${SMUGGLED}`),
    [400],
  ],
  ['a Content-Length list', post('content-length: 2, 2\r\n', `{}${SMUGGLED}`), [400]],
  ['a signed Content-Length', post('content-length: +2\r\n', `{}${SMUGGLED}`), [400]],
  [
    'a chunk size that overflows',
    post('transfer-encoding: chunked\r\n', `fffffffffffffffff1\r\n{}\r\n0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  [
    'a chunk without its CRLF',
    post('transfer-encoding: chunked\r\n', `2\r\n{}XX0\r\n\r\n${SMUGGLED}`),
    [400],
  ],
  ['bare LF line ends', `GET /items/1 HTTP/1.1\nhost: x\n\n${SMUGGLED}`, [400]],
  ['a bare CR in a header', `GET /items/1 HTTP/1.1\r\nhost: x\r\nx-a: a\rb\r\n\r\n${SMUGGLED}`, [400]],
  [
    'an obs-fold continuation line',
    `GET /items/1 HTTP/1.1\r\nhost: x\r\nx-a: a\r\n b\r\n\r\n${SMUGGLED}`,
    [400],
  ],
  ['a NUL in a header value', `GET /items/1 HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n${SMUGGLED}`, [400]],
  ['two Host headers', `GET /items/1 HTTP/1.1\r\nhost: x\r\nhost: y\r\n\r\n${SMUGGLED}`, [400]],
  ['two Content-Types', post('content-type: text/plain\r\ncontent-length: 2\r\n', '{}'), [400]],
  [
    'a Content-Encoding the operation does not declare',
    post('content-encoding: gzip\r\ncontent-length: 2\r\n', '{}'),
    [415],
  ],
  ['an HTTP/1.1 request without Host', `GET /items/1 HTTP/1.1\r\n\r\n${SMUGGLED}`, [400]],
  ['HTTP/2 preface on the HTTP/1.1 port', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n${SMUGGLED}`, [400]],
  ['an unknown method', `FOO /items/1 HTTP/1.1\r\nhost: x\r\n\r\n${SMUGGLED}`, [400]],
  [
    'an absolute-form target naming another host',
    `GET http://internal.example/items/1 HTTP/1.1\r\nhost: x\r\n\r\n${SMUGGLED}`,
    [400],
  ],
];

describe('request smuggling and framing', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each(REFUSED)('refuses %s, and the upstream sees nothing', async (_name, payload, statuses) => {
    const before = h.upstream.hits();
    const responded = await exchange(h, payload);
    expect(responded.statuses).toEqual(statuses);
    // Each refusal is the generic problem, and nothing the client sent comes back.
    expect(responded.text.match(/content-type: application\/problem\+json/gi)).toHaveLength(statuses.length);
    expect(responded.text).not.toContain('SMUGGLED');
    expect(h.upstream.hits()).toBe(before);
  });

  it('takes a request asking to upgrade as it stands, and reads nothing after it', async () => {
    const payload = `GET /items/1 HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n${SMUGGLED}`;
    expect((await exchange(h, payload)).statuses).toEqual([200]);
    expect(h.upstream.hits('/items/SMUGGLED')).toBe(0);
    expect(h.upstream.hits('/items/1')).toBeGreaterThan(0);
  });

  it('reads nothing after a request that asked to close', async () => {
    const payload = `GET /items/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n${SMUGGLED}`;
    expect((await exchange(h, payload)).statuses).toEqual([200]);
    expect(h.upstream.hits('/items/SMUGGLED')).toBe(0);
    expect(h.upstream.hits('/items/1')).toBeGreaterThan(0);
  });

  it('answers a body the length says, and the bytes after it as the next request they are', async () => {
    const before = h.upstream.hits('/items/2');
    const payload =
      post('content-length: 2\r\n', '{}') + 'GET /items/2 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n';
    expect((await exchange(h, payload)).statuses).toEqual([200, 200]);
    expect(h.upstream.hits('/items/2')).toBe(before + 1);
  });
});
