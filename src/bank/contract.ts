import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';

type JsonObject = { readonly [key: string]: unknown };

/** Who may call an operation, read from the document (see openapi.yaml's description). */
export type Access =
  /** `x-bank-public: true`: no client certificate needed (the JWKS: public keys only). */
  | 'public'
  /** `security: []`: the gateway's client certificate, no caller identity (login). */
  | 'gateway'
  /** Otherwise: the gateway's client certificate and its identity assertion for a bank user. */
  | 'caller';

/** One operation of the document, as a fastify route. */
export interface BankOperation {
  readonly operationId: string;
  readonly method: 'GET' | 'POST';
  readonly template: string;
  /** The fastify form of the template (`{id}` → `:id`). */
  readonly url: string;
  readonly access: Access;
  /** `x-gatehouse-scopes`: every one is needed. */
  readonly scopes: readonly string[];
  readonly schema: RouteSchema;
}

export interface RouteSchema {
  readonly params?: JsonObject;
  readonly querystring?: JsonObject;
  readonly headers?: JsonObject;
  readonly body?: JsonObject;
  /** 2xx answers only: fastify serializes them through these, dropping any undeclared field. */
  readonly response: Readonly<Record<string, JsonObject>>;
}

const METHODS = ['get', 'post'] as const;

/** The document's path: beside this module in src/, or in src/ when running from dist/. */
export function bankDocumentPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'openapi.yaml');
  return existsSync(beside) ? beside : path.resolve(here, '..', '..', 'src', 'bank', 'openapi.yaml');
}

/** Validates and dereferences the document, then lists its operations with their route schemas. */
export async function loadBankOperations(file = bankDocumentPath()): Promise<BankOperation[]> {
  const document = (await new SwaggerParser().validate(file, {
    resolve: { external: false, http: false },
    dereference: { circular: false },
  })) as unknown as { paths: Record<string, JsonObject>; security?: readonly JsonObject[] };
  const operations: BankOperation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as JsonObject | undefined;
      if (operation !== undefined) operations.push(toOperation(template, method, item, operation));
    }
  }
  return operations;
}

function toOperation(
  template: string,
  method: 'get' | 'post',
  item: JsonObject,
  op: JsonObject,
): BankOperation {
  const operationId = op['operationId'];
  if (typeof operationId !== 'string')
    throw new Error(`bank document: ${method} ${template} has no operationId`);
  const parameters = [...asArray(item['parameters']), ...asArray(op['parameters'])];
  return {
    operationId,
    method: method === 'get' ? 'GET' : 'POST',
    template,
    url: template.replace(/\{([^}]+)\}/g, ':$1'),
    access: accessOf(op),
    scopes: stringsOf(op['x-gatehouse-scopes']),
    schema: routeSchema(parameters, op),
  };
}

function accessOf(op: JsonObject): Access {
  if (op['x-bank-public'] === true) return 'public';
  const security = op['security'];
  return Array.isArray(security) && security.length === 0 ? 'gateway' : 'caller';
}

function routeSchema(parameters: readonly JsonObject[], op: JsonObject): RouteSchema {
  const schema: Record<string, JsonObject> = {};
  for (const [location, part, lower] of [
    ['path', 'params', false],
    ['query', 'querystring', false],
    ['header', 'headers', true],
  ] as const) {
    const declared = parameters.filter((p) => p['in'] === location);
    if (declared.length > 0) schema[part] = parametersSchema(declared, lower, location !== 'header');
  }
  const body = jsonContent(op['requestBody']);
  if (body !== undefined) schema['body'] = body;
  const response: Record<string, JsonObject> = {};
  for (const [status, declaration] of Object.entries((op['responses'] ?? {}) as JsonObject)) {
    const content = jsonContent(declaration);
    if (status.startsWith('2') && content !== undefined) response[status] = content;
  }
  return { ...schema, response };
}

/**
 * One object schema for a parameter location. Path and query are closed (an unknown query
 * parameter is refused); headers are open, since every request carries many the document
 * does not name. Header names are matched in lower case, as Node hands them over.
 */
function parametersSchema(declared: readonly JsonObject[], lowerCase: boolean, closed: boolean): JsonObject {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const parameter of declared) {
    const name = lowerCase ? String(parameter['name']).toLowerCase() : String(parameter['name']);
    properties[name] = parameter['schema'];
    if (parameter['required'] === true) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: !closed };
}

function jsonContent(holder: unknown): JsonObject | undefined {
  const content = (holder as JsonObject | undefined)?.['content'] as JsonObject | undefined;
  return (content?.['application/json'] as JsonObject | undefined)?.['schema'] as JsonObject | undefined;
}

function stringsOf(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : [];
}

function asArray(value: unknown): readonly JsonObject[] {
  return Array.isArray(value) ? (value as JsonObject[]) : [];
}
