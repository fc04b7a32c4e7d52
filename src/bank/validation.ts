import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS: its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Request validation compiled from the document's schemas (JSON Schema 2020-12, as OpenAPI 3.1
 * uses), once per route at start-up. Bodies are checked exactly as sent: no type coercion, no
 * defaults, nothing removed, so `"amount": "10"` or an unknown field is a 400, never quietly
 * "fixed" (fastify's own defaults would coerce and strip). Path, query and header values are
 * text on the wire, so there, and only there, numbers are coerced and defaults applied.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = newAjv({ coerceTypes: false, useDefaults: false });
  const parameters = newAjv({ coerceTypes: true, useDefaults: true });
  return ({ schema, httpPart }) => {
    const validate: ValidateFunction = (httpPart === 'body' ? strict : parameters).compile(schema as object);
    return (data: unknown) => (validate(data) ? { value: data } : { error: new RequestInvalid(validate) });
  };
}

/** A request that does not match the document; the errors go to the log, never to the client. */
export class RequestInvalid extends Error {
  override readonly name = 'RequestInvalid';
  constructor(validate: ValidateFunction) {
    super(
      (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; '),
    );
  }
}

function newAjv(options: { coerceTypes: boolean; useDefaults: boolean }): Ajv2020 {
  const ajv = new Ajv2020({
    ...options,
    removeAdditional: false,
    allErrors: false,
    strict: true,
    allowUnionTypes: true,
    // `example`, `description` and the like are annotations the document may carry in schemas.
    keywords: ['example', 'x-gatehouse-scopes'],
  });
  addFormats(ajv, ['uuid', 'date-time']);
  return ajv;
}
