// A trivial mTLS upstream in a process of its own, for the fairness test: the test's own process
// then runs nothing but the honest client whose latency is measured. Prints its port.
// Usage: node limits-upstream.mjs <cert.pem> <key.pem> <ca.pem>
import { readFileSync } from 'node:fs';
import https from 'node:https';
import process from 'node:process';

const [cert, key, ca] = process.argv.slice(2).map((file) => readFileSync(file));
const server = https.createServer(
  { cert, key, ca, requestCert: true, rejectUnauthorized: true },
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":"1","name":"widget"}');
  },
);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
