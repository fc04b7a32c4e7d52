// A flood for the fairness test, from 127.0.0.1: it tries to send `rate` requests per second for
// `ms` milliseconds over `connections` kept-alive TLS connections, each carrying one request at a
// time (as HTTP clients do); a request finding every connection busy is counted as held back. A
// connection the gateway closes is opened again at once. Prints what it offered and got as JSON.
// Usage: node limits-flooder.mjs <port> <ca.pem> <connections> <rate> <ms>
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import tls from 'node:tls';

const [port, caFile, connections, rate, ms] = process.argv.slice(2);
const ca = readFileSync(caFile);
const TICK_MS = 5;
const STATUS_LINE = /HTTP\/1\.1 (\d{3}) /g;
const stats = { offered: 0, sent: 0, heldBack: 0, responded: 0, reconnects: 0, statuses: {} };
let running = true;
let ids = 0;

function connect(slot) {
  const socket = tls.connect({ host: '127.0.0.1', port: Number(port), ca, servername: 'localhost' });
  const connection = { socket, busy: false, closed: false };
  let carry = '';
  socket.on('data', (chunk) => {
    const text = carry + chunk.toString('latin1');
    for (const match of text.matchAll(STATUS_LINE)) {
      stats.responded += 1;
      stats.statuses[match[1]] = (stats.statuses[match[1]] ?? 0) + 1;
      if (connection.busy) idle.push(connection);
      connection.busy = false;
    }
    carry = text.slice(-16).includes('HTTP/1.1 ') ? '' : text.slice(-16);
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    connection.closed = true;
    if (!running) return;
    stats.reconnects += 1;
    pool[slot] = connect(slot);
  });
  idle.push(connection);
  return connection;
}

/** Connections with no request outstanding: the flood itself must cost next to nothing. */
const idle = [];
const pool = [];
for (let slot = 0; slot < Number(connections); slot += 1) pool.push(connect(slot));

const perTick = Math.max(1, Math.round((Number(rate) * TICK_MS) / 1000));
const timer = setInterval(() => {
  for (let i = 0; i < perTick; i += 1) {
    stats.offered += 1;
    let connection = idle.pop();
    while (connection !== undefined && connection.closed) connection = idle.pop();
    if (connection === undefined) {
      stats.heldBack += 1;
      continue;
    }
    connection.busy = true;
    connection.socket.write(`GET /items/flood-${(ids += 1)} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    stats.sent += 1;
  }
}, TICK_MS);

setTimeout(() => {
  running = false;
  clearInterval(timer);
  for (const { socket } of pool) socket.destroy();
  process.stdout.write(JSON.stringify(stats) + '\n');
}, Number(ms));
