import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin, { type FormatsPlugin } from 'ajv-formats';

/**
 * One ajv instance per compiled configuration, shared by every validator of its APIs. Schemas
 * are JSON Schema 2020-12 after `prepareSchema`, whatever the document's OpenAPI version.
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
export function createSchemaCompiler(): SchemaCompiler {
  const ajv = new Ajv2020({
    allErrors: false,
    verbose: true,
    strictSchema: false,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: true,
    logger: false,
    code: { optimize: true },
  });
  // ajv-formats is CommonJS: under NodeNext its default export arrives as the module object.
  const addFormats = (formatsPlugin as unknown as { default: FormatsPlugin }).default;
  addFormats(ajv);
  return {
    compile: (schema: unknown) => ajv.compile(schema as object),
  };
}

export interface SchemaCompiler {
  compile(schema: unknown): ValidateFunction;
}
