// What the load scripts that run `gatehouse start` from dist/ share: a plain upstream answering
// {"ok":true}, an API of one operation behind an API key, and the spawned gateway's port.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const cliPath = path.join(root, 'dist/cli.js');

/** GET /items/{id} behind an API key (X-API-Key), answering a small JSON object. */
export function apiKeyItemsApi(title) {
  return `openapi: 3.1.0
info: { title: ${title}, version: '1' }
components:
  securitySchemes:
    apiKey: { type: apiKey, in: header, name: X-API-Key }
security: [ { apiKey: [] } ]
paths:
  /items/{id}:
    get:
      parameters: [ { name: id, in: path, required: true, schema: { type: string, maxLength: 16 } } ]
      responses:
        '200': { description: an item, content: { application/json: { schema: { type: object, properties: { ok: { type: boolean } } } } } }
`;
}

/** A plain HTTP upstream on 127.0.0.1 answering every request with {"ok":true}; `body(req)` may answer otherwise. */
export async function startPlainUpstream(body = () => '{"ok":true}') {
  const server = http.createServer((req, res) => {
    const text = body(req);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * Spawns `gatehouse start --config <config>` (its log on stdout, errors on this stderr) and
 * resolves with the child and the port of its first listener, read from the `listening` line.
 */
export async function spawnGatehouse(config) {
  const child = spawn(process.execPath, [cliPath, 'start', '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /"url":"https:\/\/[^"]*:(\d+)"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`gatehouse exited (${code}): ${out}`)));
  });
  return { child, port };
}
