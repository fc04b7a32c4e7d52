import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/index.js';
import { startCatalogUpstream } from '../example/catalog-upstream.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger } from '../observe/logger.js';
import { ensureDevCertificates } from '../tls/dev-certs.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `npm start`: the example catalog upstream on https://127.0.0.1:8444 (mTLS only) behind
 * Gatehouse on https://127.0.0.1:8443, with development certificates made on first run.
 */
export async function runDemo(): Promise<void> {
  const config = await loadConfig(path.join(packageRoot, 'examples', 'demo.yaml'));
  const certs = await ensureDevCertificates(config.stateDir);
  const upstreamPort = Number(new URL(config.apis[0]!.upstream.url).port);
  const upstream = await startCatalogUpstream(certs, upstreamPort);
  const logger = createLogger(config.log);
  const gateway = await startGateway(config, logger);
  const address = gateway.addresses.get('public')!;
  const base = `https://${address.address}:${address.port}`;
  const ca = path.relative(process.cwd(), certs.caCertPath);
  console.log(`
Gatehouse is running on ${base} in front of the example catalog (https://127.0.0.1:${upstream.port}, mTLS only).
Access log lines follow on stdout. Try:

  curl --cacert ${ca} ${base}/items                      # a declared operation: the upstream's answer
  curl --cacert ${ca} ${base}/admin                      # undeclared path: 404 problem, upstream never reached
  curl --cacert ${ca} -X DELETE ${base}/items/x          # undeclared method: 405 problem with Allow
  curl --cacert ${ca} '${base}/items/..%2f..%2fetc'      # traversal: 400 problem
  curl -i http://127.0.0.1:${address.port}/items             # plaintext: refused with a 400 problem, no redirect
  curl --cacert ${ca} https://127.0.0.1:${upstream.port}/items   # skipping the gateway: no client certificate, refused

Ctrl-C stops everything.
`);
  const stop = (): void => {
    Promise.all([gateway.close(2_000), upstream.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
