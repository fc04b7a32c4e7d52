// Target (n): the least a Node.js TLS proxy can do for this traffic, as a floor for the others.
// Each client connection gets its own kept-alive mTLS connection to the upstream (verified against
// the dev CA), and bytes are copied both ways as they arrive: no HTTP parsing, no check, nothing
// rewritten (the client's X-API-Key reaches the upstream, which ignores it). It serves one request
// at a time per connection only because wrk sends one at a time. What it costs per request is what
// Node's TLS and streams cost for two hops; what Gatehouse costs beyond it is its HTTP handling
// (parsing both messages, building both heads) and its checks.
// Configured by the BENCH_* environment, as fastify-proxy.mjs.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import tls from 'node:tls';

const env = (name) => process.env[name] ?? (console.error(`${name} not set`), process.exit(2));
const read = (name) => readFileSync(env(name));
const upstream = new URL(env('BENCH_UPSTREAM'));
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
    client.on('data', (chunk) => hop.write(chunk));
    hop.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      hop.destroy();
    };
    for (const socket of [client, hop]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  },
);
server.listen(Number(env('BENCH_PORT')), '127.0.0.1');
