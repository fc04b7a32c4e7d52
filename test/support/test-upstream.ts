import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevCertificates } from '../../src/tls/dev-certs.js';
import { respondAsValidationApi } from './validation-upstream.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly clientCertCn: string | null;
}

export interface TestUpstream {
  readonly port: number;
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Requests received whose path starts with `prefix`. */
  hits(prefix?: string): number;
  close(): Promise<void>;
}

export const STACK_TRACE =
  'Error: connection to db-internal-7.corp:5432 refused\n    at Pool.connect (/srv/app/node_modules/pg/lib/pool.js:45:11)';

/**
 * A real HTTPS upstream for the tests, mTLS required, that records every request it receives so
 * a test can assert whether the gateway let a request through.
 */
export async function startTestUpstream(
  certs: DevCertificates,
  options: { slowMs?: number; bigBytes?: number } = {},
): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const server = https.createServer(
    {
      key: certs.serverKey,
      cert: certs.serverCert,
      ca: certs.caCert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const record = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          clientCertCn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : null,
        };
        received.push(record);
        respond(record, res, options);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    received,
    hits: (prefix = '/') => received.filter((r) => r.url.startsWith(prefix)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function respond(
  record: ReceivedRequest,
  res: ServerResponse,
  options: { slowMs?: number; bigBytes?: number },
): void {
  // /public/… answers as /… does: a test can declare the same resources public and secured.
  const path = record.url.split('?')[0]!.replace(/^\/public(?=\/)/, '');
  if (path === '/items/hop-names') {
    // An upstream naming the gateway's own headers as hop-by-hop: only its own may go.
    res.writeHead(200, {
      'content-type': 'application/json',
      connection:
        'keep-alive, strict-transport-security, content-security-policy, x-content-type-options, x-request-id, x-upstream-hop',
      'x-upstream-hop': 'internal',
    });
    res.end(JSON.stringify({ id: 'hop-names', name: 'widget' }));
  } else if (path.startsWith('/items/missing-')) {
    // An object that does not exist (or is not the caller's): what an id enumeration meets.
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  } else if (path.startsWith('/items/')) {
    res.writeHead(200, {
      'content-type': 'application/json',
      server: 'upstream/1.0',
      'x-powered-by': 'Express',
    });
    res.end(JSON.stringify({ id: decodeURIComponent(path.slice(7)), name: 'widget' }));
  } else if (path === '/login') {
    // A login: 200 for the password "right", 401 otherwise (what a brute-force run meets).
    const ok = /"password"\s*:\s*"right"/.test(record.body);
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok }));
  } else if (path === '/echo') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(record));
  } else if (path === '/slow') {
    setTimeout(() => res.writeHead(200).end('late'), options.slowMs ?? 3_000).unref();
  } else if (path === '/crash') {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(STACK_TRACE);
  } else if (path === '/big') {
    const size = options.bigBytes ?? 2_000_000;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    res.end(Buffer.alloc(size, 97));
  } else if (path === '/big-chunked') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const piece = Buffer.alloc(16_384, 98);
    let sent = 0;
    const more = (): void => {
      while (sent < (options.bigBytes ?? 2_000_000)) {
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  } else if (path === '/stream') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`chunk ${sent}\n`);
      sent += 1;
      if (sent === 5) {
        clearInterval(timer);
        res.end();
      }
    }, 10);
  } else if (path === '/redirect') {
    res.writeHead(302, { location: 'https://evil.example/steal' }).end();
  } else if (path.startsWith('/v/')) {
    respondAsValidationApi(record, res);
  } else {
    res.writeHead(404).end();
  }
}
