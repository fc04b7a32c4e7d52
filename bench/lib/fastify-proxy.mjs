// Target (d): fastify 5 + @fastify/http-proxy, HTTPS front, undici pool to the upstream over
// mTLS (verified against the dev CA), logger off. Configured by the BENCH_* environment.
// With BENCH_KEYS (a JSON file of { key, consumer }), it does the checks a fastify user would add
// for the deployed configuration: the X-API-Key header hashed (SHA-256, as keys are stored hashed)
// and looked up (401 when absent or unknown), GET /items/{id} checked for its shape (404), the key
// not forwarded and the consumer named to the upstream; with BENCH_RATE_LIMIT, @fastify/rate-limit
// per consumer (memory store, generous: it decides on every request, never refuses here).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import rateLimit from '@fastify/rate-limit';

const env = (name) => process.env[name] ?? (console.error(`${name} not set`), process.exit(2));
const read = (name) => readFileSync(env(name));
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const ITEM = /^\/items\/[A-Za-z0-9_-]{1,64}$/;

const app = Fastify({
  logger: false,
  https: { cert: read('BENCH_SERVER_CERT'), key: read('BENCH_SERVER_KEY') },
  keepAliveTimeout: 300_000,
});

const keysFile = process.env.BENCH_KEYS;
const consumers = new Map(
  keysFile ? JSON.parse(readFileSync(keysFile, 'utf8')).map(({ key, consumer }) => [sha256(key), consumer]) : [],
);
const consumerOf = new WeakMap();
if (keysFile) {
  app.addHook('onRequest', async (request, reply) => {
    const key = request.headers['x-api-key'];
    const consumer = typeof key === 'string' ? consumers.get(sha256(key)) : undefined;
    if (consumer === undefined) return reply.code(401).send({ title: 'Unauthorized' });
    if (request.url.startsWith('/items/') && !ITEM.test(request.url))
      return reply.code(404).send({ title: 'Not Found' });
    consumerOf.set(request.raw, consumer);
  });
}
if (keysFile && process.env.BENCH_RATE_LIMIT) {
  await app.register(rateLimit, {
    hook: 'preHandler',
    max: 100_000,
    timeWindow: 1000,
    keyGenerator: (request) => consumerOf.get(request.raw),
  });
}

await app.register(proxy, {
  upstream: env('BENCH_UPSTREAM'),
  undici: {
    connections: 128,
    pipelining: 1,
    keepAliveTimeout: 300_000,
    connect: { ca: read('BENCH_CA'), cert: read('BENCH_CLIENT_CERT'), key: read('BENCH_CLIENT_KEY') },
  },
  replyOptions: keysFile
    ? {
        rewriteRequestHeaders: (request, headers) => {
          const forwarded = { ...headers, 'x-consumer': consumerOf.get(request.raw ?? request) };
          delete forwarded['x-api-key'];
          return forwarded;
        },
      }
    : {},
});
await app.listen({ host: '127.0.0.1', port: Number(env('BENCH_PORT')) });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.close().then(() => process.exit(0)));
