import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin, { type FormatsPlugin } from 'ajv-formats';
import { loadBuilt } from '../../config/built-code.js';

/**
 * How every schema of a contract is compiled, here and (its meta-schema) by
 * tools/build-openapi-validators.mjs. Schemas are JSON Schema 2020-12 after `prepareSchema`,
 * whatever the document's OpenAPI version.
 *
 * - `allErrors: false`: validation stops at the first problem, so a crafted body cannot make
 *   the gateway enumerate thousands of errors (ajv's security notes), and one field is named.
 * - `verbose`: the failing schema travels with the error, to word the rule from the contract
 *   itself; the failing data is never used.
 * - no `coerceTypes`, no `useDefaults`, no `removeAdditional`: the body the upstream receives is
 *   the one that was validated, byte for byte.
 * - unknown keywords are annotations (JSON Schema 2020-12 Core §6.5), unknown formats are not
 *   checked (`check-config` warns about them).
 */
export const SCHEMA_AJV_OPTIONS: Readonly<Options> = Object.freeze({
  allErrors: false,
  verbose: true,
  strictSchema: false,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
  validateFormats: true,
  logger: false,
  code: Object.freeze({ optimize: true }),
});

/** The meta-schema every schema is checked against before it is compiled. */
export const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** An ajv configured as the contract's schemas are compiled: SCHEMA_AJV_OPTIONS (and `extra`), the formats. */
export function createSchemaAjv(extra: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({ ...SCHEMA_AJV_OPTIONS, ...extra });
  // ajv-formats is CommonJS: under NodeNext its default export arrives as the module object.
  const addFormats = (formatsPlugin as unknown as { default: FormatsPlugin }).default;
  addFormats(ajv);
  return ajv;
}

/**
 * What the meta-schema's validator built ahead of time is made from: ajv's and ajv-formats'
 * versions and the SHA-256 of the options. One made from anything else is not used.
 */
export function metaValidatorSource(): string {
  // A function-valued option would vanish from the digest below: none may be one.
  if (Object.values(SCHEMA_AJV_OPTIONS).some((value) => typeof value === 'function'))
    throw new Error('SCHEMA_AJV_OPTIONS: a function-valued option cannot be digested');
  const require = createRequire(import.meta.url);
  const version = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;
  const digest = createHash('sha256').update(JSON.stringify(SCHEMA_AJV_OPTIONS)).digest('hex');
  return `ajv@${version('ajv')} ajv-formats@${version('ajv-formats')} sha256:${digest}`;
}

type MetaValidator = ((schema: unknown) => boolean) & { errors?: ErrorObject[] | null; madeFrom?: unknown };
let metaValidator: MetaValidator | null | undefined;

/** The meta-schema's validator `npm run build` compiled (dist/contract/validation/), if it matches. */
function builtMetaValidator(): MetaValidator | null {
  // Once: null (none built, or stale) is an answer too.
  if (metaValidator === undefined)
    metaValidator = loadBuilt<MetaValidator>(
      import.meta.url,
      './json-schema-meta-validator.cjs',
      (built) => built.madeFrom === metaValidatorSource(),
    );
  return metaValidator;
}

/** Whether schemas are checked against the meta-schema by a validator built ahead of time. */
export function usesBuiltMetaValidator(): boolean {
  return builtMetaValidator() !== null;
}

/**
 * One ajv instance per compiled configuration, shared by every validator of its APIs. Each
 * schema is first checked against JSON Schema 2020-12, as ajv does and with ajv's error, but by
 * the validator the build compiled: ajv would compile the meta-schema first (~0.1 s in every
 * process, at every start and reload). A schema that names another meta-schema (`$schema`) is
 * left to ajv. The check now comes before ajv's own look-ups, so a schema both invalid and
 * faulty in another way (two equal `$id`s) is refused with the meta-schema's message.
 */
export function createSchemaCompiler(): SchemaCompiler {
  const meta = builtMetaValidator();
  const ajv = createSchemaAjv(meta === null ? {} : { validateSchema: false });
  const check = (schema: unknown): void => {
    if (meta === null || typeof schema !== 'object' || schema === null) return;
    if ((schema as { $schema?: unknown }).$schema !== undefined) {
      ajv.validateSchema(schema as object, true);
      return;
    }
    if (!meta(schema)) throw new Error(`schema is invalid: ${ajv.errorsText(meta.errors)}`);
  };
  return {
    compile: (schema: unknown) => {
      check(schema);
      return ajv.compile(schema as object);
    },
  };
}

export interface SchemaCompiler {
  compile(schema: unknown): ValidateFunction;
}
