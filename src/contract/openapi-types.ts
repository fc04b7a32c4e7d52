/**
 * The parts of an OpenAPI 3.0/3.1 document the gateway reads, typed loosely on purpose: the document
 * has been validated against the official schema by the loader, and each later stage (auth,
 * validation, limits) narrows what it reads. Everything is readonly: the loaded document is frozen.
 */

export type JsonObject = { readonly [key: string]: unknown };

export interface OpenApiDocument extends JsonObject {
  readonly openapi: string;
  readonly info: JsonObject;
  /** Absent in a 3.1 document that only declares webhooks. */
  readonly paths?: { readonly [template: string]: JsonObject };
  readonly components?: JsonObject;
  readonly security?: readonly JsonObject[];
}

/** The HTTP methods an OpenAPI 3.0/3.1 path item may declare (OpenAPI 3.1 §4.8.9.1). */
export const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asJsonObjectArray(value: unknown): readonly JsonObject[] {
  return Array.isArray(value) ? value.filter(isJsonObject) : [];
}
