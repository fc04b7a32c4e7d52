import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevCertificates } from '../tls/dev-certs.js';

interface Item {
  id: string;
  name: string;
  price: number;
}

export interface CatalogUpstream {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The example upstream `npm start` puts behind Gatehouse: a tiny in-memory catalog served over
 * HTTPS that only talks to callers presenting a certificate from the development CA (mTLS), so
 * a call that skips the gateway is refused at the handshake.
 */
export async function startCatalogUpstream(
  certs: DevCertificates,
  port: number,
  host = '127.0.0.1',
): Promise<CatalogUpstream> {
  const items = new Map<string, Item>();
  for (const [name, price] of [
    ['lamp', 2599],
    ['kettle', 3450],
    ['chair', 8900],
  ] as const) {
    const id = randomUUID();
    items.set(id, { id, name, price });
  }
  const server = https.createServer(
    {
      key: certs.serverKey,
      cert: certs.serverCert,
      ca: certs.caCert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      serve(items, req, res).catch(() => {
        if (!res.headersSent) res.writeHead(400).end();
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(items: Map<string, Item>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method === 'GET' && path === '/items') return json(res, 200, [...items.values()]);
  if (req.method === 'POST' && path === '/items') {
    const body = JSON.parse(await readAll(req)) as { name: string; price: number };
    const item = { id: randomUUID(), name: body.name, price: body.price };
    items.set(item.id, item);
    return json(res, 201, item);
  }
  const match = /^\/items\/([^/]+)$/.exec(path);
  const item = match === null ? undefined : items.get(decodeURIComponent(match[1]!));
  if (req.method === 'GET' && item !== undefined) return json(res, 200, item);
  res.writeHead(404).end();
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
