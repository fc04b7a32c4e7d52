#!/usr/bin/env node
// Compiles the configuration schema (src/config/schema.ts, after tsc) into standalone validation
// code, dist/config/config-validator.cjs, carrying the schema's digest: `gatehouse start` and
// `check-config` load it in ~20 ms instead of compiling the schema (~200 ms). A validator whose
// digest does not match the schema is not used (ajv-issues.ts). Run by `npm run build`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';

const folder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'config');
const load = (file) => import(pathToFileURL(path.join(folder, file)).href);
const { configSchema } = await load('schema.js');
const { CONFIG_AJV_OPTIONS, CONFIG_AJV_KEYWORDS, configSchemaDigest } = await load('ajv-issues.js');
// CommonJS: ajv's standalone code requires its runtime helpers.
const ajv = new Ajv2020({ ...CONFIG_AJV_OPTIONS, code: { source: true, esm: false } });
for (const keyword of CONFIG_AJV_KEYWORDS) ajv.addKeyword(keyword);
const code = standaloneCode.default(ajv, ajv.compile(configSchema));
writeFileSync(
  path.join(folder, 'config-validator.cjs'),
  `${code};\nmodule.exports.schemaDigest = ${JSON.stringify(configSchemaDigest())};\n`,
);
