import type { CompiledApi, Operation } from '../operation.js';
import { isJsonObject, type JsonObject } from '../openapi-types.js';

/** A door the contract leaves open: not an error (the gateway still starts), but worth closing. */
export interface ContractWarning {
  readonly api: string;
  /** "POST /transfers" */
  readonly operation: string;
  /** Where in the operation: "security", "body.memo", "query.limit", "responses.200". */
  readonly at: string;
  readonly message: string;
}

/** Formats the gateway checks (ajv-formats and OpenAPI's own); any other is not checked. */
const KNOWN_FORMATS = new Set([
  'date',
  'time',
  'date-time',
  'iso-time',
  'iso-date-time',
  'duration',
  'uri',
  'uri-reference',
  'uri-template',
  'url',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'regex',
  'uuid',
  'json-pointer',
  'json-pointer-uri-fragment',
  'relative-json-pointer',
  'byte',
  'int32',
  'int64',
  'float',
  'double',
  'password',
  'binary',
]);
/** String formats whose values are short by construction: no maxLength needed. */
const BOUNDED_FORMATS = new Set([
  'date',
  'time',
  'date-time',
  'uuid',
  'ipv4',
  'ipv6',
  'int32',
  'int64',
  'duration',
]);
const SCHEMA_CHILDREN = [
  'items',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
] as const;
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;

/**
 * What `gatehouse check-config` warns about in a contract (OWASP API Top 10: API4 unrestricted
 * resource consumption, API3 property-level authorization, API2/API5 missing authentication):
 * operations with no security, strings with no maxLength, arrays with no maxItems, numbers with
 * no bounds, objects open to any property, formats the gateway does not check, and responses
 * with no schema. A schema shared by several operations is reported once.
 */
export function lintContract(api: CompiledApi): ContractWarning[] {
  const warnings: ContractWarning[] = [];
  const reported = new Set<string>();
  const seen = new WeakMap<object, Set<string>>();
  for (const operation of api.operations) {
    const name = `${operation.method} ${operation.template}`;
    const warn = (at: string, message: string, schema?: object): void => {
      if (schema !== undefined) {
        const messages = seen.get(schema) ?? new Set<string>();
        if (messages.has(message)) return;
        messages.add(message);
        seen.set(schema, messages);
      }
      const key = `${name}\u0000${at}\u0000${message}`;
      if (reported.has(key)) return;
      reported.add(key);
      warnings.push({ api: api.name, operation: name, at, message });
    };
    lintOperation(operation, warn);
  }
  return warnings;
}

/** One line of `check-config` output: `warning: apis.bank: POST /transfers: body.memo: string has no maxLength`. */
export function formatContractWarning(warning: ContractWarning): string {
  return `warning: apis.${warning.api}: ${warning.operation}: ${warning.at}: ${warning.message}`;
}

type Warn = (at: string, message: string, schema?: object) => void;

function lintOperation(operation: Operation, warn: Warn): void {
  // Without security and not marked public, the authenticate stage refuses every request
  // (default deny, and src/auth warns about it); marked public, anyone can call it.
  const requirements = operation.security;
  const anonymous = requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0);
  if (anonymous && operation.operation['x-gatehouse-public'] === true) {
    warn('security', 'declares no security (x-gatehouse-public): anyone can call it');
  }
  for (const parameter of operation.parameters) {
    lintSchema(parameter.schema, `${String(parameter.in)}.${String(parameter.name)}`, 'request', warn);
  }
  const body = operation.operation.requestBody;
  if (isJsonObject(body) && isJsonObject(body.content)) {
    for (const media of Object.values(body.content)) {
      if (isJsonObject(media)) lintSchema(media.schema, 'body', 'request', warn);
    }
  }
  const responses = operation.operation.responses;
  if (isJsonObject(responses)) {
    for (const [status, response] of Object.entries(responses)) lintResponse(status, response, warn);
  }
}

function lintResponse(status: string, response: unknown, warn: Warn): void {
  if (!isJsonObject(response) || /^(1|3)|^204$|^304$/.test(status)) return;
  const content = isJsonObject(response.content) ? response.content : {};
  const schemas = Object.values(content).map((media) => (isJsonObject(media) ? media.schema : undefined));
  if (schemas.length === 0 || schemas.some((schema) => schema === undefined)) {
    warn(`responses.${status}`, 'has no schema: its body reaches the client unchecked and unfiltered');
  }
  for (const schema of schemas) lintSchema(schema, `responses.${status}`, 'response', warn);
}

function lintSchema(schema: unknown, at: string, side: 'request' | 'response', warn: Warn): void {
  const visited = new Set<unknown>();
  const walk = (node: unknown, path: string): void => {
    if (!isJsonObject(node) || visited.has(node)) return;
    visited.add(node);
    if (side === 'request' || node.readOnly !== true) lintNode(node, path, side, warn);
    if (isJsonObject(node.properties)) {
      for (const [name, child] of Object.entries(node.properties)) walk(child, `${path}.${name}`);
    }
    for (const key of SCHEMA_CHILDREN) walk(node[key], key === 'items' ? `${path}[]` : path);
    for (const key of SCHEMA_LISTS)
      if (Array.isArray(node[key])) for (const child of node[key] as unknown[]) walk(child, path);
  };
  walk(schema, at);
}

function lintNode(node: JsonObject, at: string, side: 'request' | 'response', warn: Warn): void {
  const types =
    typeof node.type === 'string' ? [node.type] : Array.isArray(node.type) ? (node.type as unknown[]) : [];
  const closedSet = node.enum !== undefined || node.const !== undefined;
  if (typeof node.format === 'string' && !KNOWN_FORMATS.has(node.format)) {
    warn(at, `format "${node.format}" is not checked by the gateway`, node);
  }
  const boundedText = closedSet || BOUNDED_FORMATS.has(String(node.format)) || isBoundedPattern(node.pattern);
  if (side === 'request' && types.includes('string') && node.maxLength === undefined && !boundedText) {
    warn(at, 'string has no maxLength', node);
  }
  if (side === 'request' && types.includes('array') && node.maxItems === undefined)
    warn(at, 'array has no maxItems', node);
  if (
    side === 'request' &&
    (types.includes('integer') || types.includes('number')) &&
    !closedSet &&
    !hasBounds(node)
  ) {
    warn(at, `${types.includes('integer') ? 'integer' : 'number'} has no minimum or no maximum`, node);
  }
  if (node.additionalProperties === true || (side === 'request' && isJsonObject(node.additionalProperties))) {
    warn(at, 'object allows additional properties', node);
  } else if (
    types.includes('object') &&
    node.properties === undefined &&
    node.additionalProperties === undefined
  ) {
    warn(
      at,
      `object declares no properties: the gateway ${side === 'request' ? 'refuses' : 'removes'} every property`,
      node,
    );
  }
}

/** An anchored pattern with no unbounded repetition (`*`, `+`, `{n,}`) bounds the length by itself. */
function isBoundedPattern(pattern: unknown): boolean {
  return (
    typeof pattern === 'string' &&
    pattern.startsWith('^') &&
    pattern.endsWith('$') &&
    !/[*+]|\{\d+,\}/.test(pattern)
  );
}

function hasBounds(node: JsonObject): boolean {
  const low =
    node.minimum !== undefined ||
    typeof node.exclusiveMinimum === 'number' ||
    (node.exclusiveMinimum === true && node.minimum !== undefined);
  const high = node.maximum !== undefined || typeof node.exclusiveMaximum === 'number';
  return low && high;
}
