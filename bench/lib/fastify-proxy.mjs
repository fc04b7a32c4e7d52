// Target (d): fastify 5 + @fastify/http-proxy, HTTPS front, undici pool to the upstream over
// mTLS (verified against the dev CA), logger off. Configured by the BENCH_* environment.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const env = (name) => process.env[name] ?? (console.error(`${name} not set`), process.exit(2));
const read = (name) => readFileSync(env(name));

const app = Fastify({
  logger: false,
  https: { cert: read('BENCH_SERVER_CERT'), key: read('BENCH_SERVER_KEY') },
  keepAliveTimeout: 300_000,
});
await app.register(proxy, {
  upstream: env('BENCH_UPSTREAM'),
  undici: {
    connections: 128,
    pipelining: 1,
    keepAliveTimeout: 300_000,
    connect: { ca: read('BENCH_CA'), cert: read('BENCH_CLIENT_CERT'), key: read('BENCH_CLIENT_KEY') },
  },
});
await app.listen({ host: '127.0.0.1', port: Number(env('BENCH_PORT')) });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.close().then(() => process.exit(0)));
