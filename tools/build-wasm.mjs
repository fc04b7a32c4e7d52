#!/usr/bin/env node
// Assembles the contract's JSON scanners (src/contract/validation/json-wat.ts, after tsc) into
// dist/contract/validation/json.wasm, and writes the SHA-256 of the text it came from beside it:
// `gatehouse start` compiles that binary and never loads wabt, a development dependency. A binary
// whose digest does not match the text is not used (json-wasm.ts). Run by `npm run build`.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import loadWabt from 'wabt';

const folder = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'dist',
  'contract',
  'validation',
);
const { JSON_WAT } = await import(pathToFileURL(path.join(folder, 'json-wat.js')).href);
const wabt = await loadWabt();
const parsed = wabt.parseWat('json.wat', JSON_WAT, { simd: true, multi_value: true });
try {
  parsed.validate();
  writeFileSync(path.join(folder, 'json.wasm'), parsed.toBinary({}).buffer);
} finally {
  parsed.destroy();
}
writeFileSync(
  path.join(folder, 'json.wasm.sha256'),
  createHash('sha256').update(JSON_WAT).digest('hex') + '\n',
);
