// What the two Node.js relays (node-relay.mjs, node-http-relay.mjs) share: the BENCH_*
// environment (as fastify-proxy.mjs is configured), a TLS listener, and for each client
// connection its own kept-alive mTLS connection to the upstream, verified against the dev CA,
// the two closed together.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import tls from 'node:tls';

const env = (name) => process.env[name] ?? (console.error(`${name} not set`), process.exit(2));
const read = (name) => readFileSync(env(name));

/** The upstream's URL. */
export const upstream = new URL(env('BENCH_UPSTREAM'));

/**
 * Listens on BENCH_PORT; `wire(client, hop, close)` connects the two sockets of each pair, and
 * `close` ends both (as an error or a close on either does).
 */
export function listenPaired(wire) {
  const upstreamContext = tls.createSecureContext({
    ca: read('BENCH_CA'),
    cert: read('BENCH_CLIENT_CERT'),
    key: read('BENCH_CLIENT_KEY'),
  });
  const server = tls.createServer(
    { cert: read('BENCH_SERVER_CERT'), key: read('BENCH_SERVER_KEY') },
    (client) => {
      const hop = tls.connect({
        host: upstream.hostname,
        port: Number(upstream.port),
        secureContext: upstreamContext,
        servername: env('BENCH_UPSTREAM_NAME'),
      });
      client.setNoDelay(true);
      hop.setNoDelay(true);
      const close = () => {
        client.destroy();
        hop.destroy();
      };
      for (const socket of [client, hop]) {
        socket.on('error', close);
        socket.on('close', close);
      }
      wire(client, hop, close);
    },
  );
  server.listen(Number(env('BENCH_PORT')), '127.0.0.1');
}
