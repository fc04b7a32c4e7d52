#!/usr/bin/env node
// Two attacks on the front door, and what they cost (issue: hardening items 1 and 2).
// 1. Slow readers: connections that pipeline requests for a 28 KB answer and never read.
//    Reported: the gateway's RSS over the attack (it grew ~9 MB/s without bound before).
// 2. Slot holding: one address opens connections and sends its headers slowly, while honest
//    clients from another address (::1) each make one request on a new connection.
//    Reported: how many honest requests got their response (5 of 42 before).
// Gatehouse runs as `gatehouse start` (dist/) in front of a plain upstream on loopback.
// Usage: npm run build && node bench/front-door.mjs [--seconds 10] [--slow 6] [--holders 500]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { spawnGatehouse, startPlainUpstream } from './lib/gatehouse-cli.mjs';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    slow: { type: 'string', default: '6' },
    holders: { type: 'string', default: '500' },
  },
});
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-front-door-'));
const big = JSON.stringify({ items: 'x'.repeat(28_000) });
const upstream = await startPlainUpstream((req) => (req.url === '/big' ? big : '{"ok":true}'));

writeFileSync(
  path.join(dir, 'api.yaml'),
  `openapi: 3.1.0
info: { title: front door bench, version: '1' }
paths:
  /big:
    get:
      x-gatehouse-public: true
      responses:
        '200': { description: 28 KB, content: { application/json: { schema: { type: object, properties: { items: { type: string } } } } } }
  /small:
    get:
      x-gatehouse-public: true
      responses:
        '200': { description: small, content: { application/json: { schema: { type: object, properties: { ok: { type: boolean } } } } } }
`,
);
// One listener on every loopback address; the slot attack's scale shrunk to fit one machine:
// 300 connections in all, 100 per address.
writeFileSync(
  path.join(dir, 'gatehouse.yaml'),
  `stateDir: ./state
listeners: [{ name: public, host: '::', port: 0, tls: dev }]
limits: { maxConnections: 300, maxConnectionsPerAddress: 100, maxHandshakesPerAddressPerSecond: 1000, headersTimeoutMs: 10000 }
apis:
  - name: bench
    openapi: ./api.yaml
    upstream: { url: 'http://127.0.0.1:${upstream.address().port}' }
preAuthLimit: { perAddress: null }
log: { level: info, access: false }
`,
);
const { child, port } = await spawnGatehouse(path.join(dir, 'gatehouse.yaml'));
const ca = readFileSync(path.join(dir, 'state/certs/ca.crt'));
const rssMb = () => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
};
const open = (host) =>
  new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });

async function slowReaders(seconds, count) {
  const burst = 'GET /big HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(200);
  const sockets = [];
  for (let i = 0; i < count; i += 1) {
    const socket = await open('127.0.0.1');
    socket.pause(); // never reads
    socket.on('error', () => undefined);
    sockets.push(socket);
  }
  const before = rssMb();
  const samples = [];
  const writer = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write(burst);
  }, 100);
  for (let s = 0; s < seconds; s += 1) {
    await sleep(1000);
    samples.push(rssMb());
  }
  clearInterval(writer);
  const cut = sockets.filter((socket) => socket.destroyed).length;
  for (const socket of sockets) socket.destroy();
  const peak = Math.max(...samples);
  console.log(
    `slow readers: ${count} connections pipelining GET /big (28 KB) and reading nothing for ${seconds} s: ` +
      `RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB (+${(peak - before).toFixed(0)} MB), ` +
      `last ${samples.at(-1).toFixed(0)} MB (each second: ${samples.map((m) => m.toFixed(0)).join(' ')}); ${cut} of ${count} connections cut by the gateway`,
  );
}

async function slotHolders(holders, honest) {
  const held = [];
  for (let i = 0; i < holders; i += 1) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write('\x16')); // the first byte of a handshake, then nothing
    held.push(socket);
  }
  await sleep(1000);
  let responded = 0;
  await Promise.all(
    Array.from({ length: honest }, async () => {
      try {
        const socket = await open('::1');
        socket.write('GET /small HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
        const text = await new Promise((resolve) => {
          let data = '';
          socket.on('data', (chunk) => (data += chunk));
          socket.on('close', () => resolve(data));
          socket.on('error', () => resolve(data));
          setTimeout(() => socket.destroy(), 5000);
        });
        if (text.startsWith('HTTP/1.1 200')) responded += 1;
      } catch {
        /* refused: not answered */
      }
    }),
  );
  const open_ = held.filter((socket) => !socket.destroyed).length;
  for (const socket of held) socket.destroy();
  console.log(
    `slot holding: ${holders} slow connections from 127.0.0.1 (${open_} still open after), ${honest} honest requests ` +
      `from ::1 on new connections: ${responded} of ${honest} answered`,
  );
}

try {
  await sleep(500);
  await slowReaders(Number(opt.seconds), Number(opt.slow));
  await sleep(1000);
  await slotHolders(Number(opt.holders), 42);
} finally {
  child.kill('SIGTERM');
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}
