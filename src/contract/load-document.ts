import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ContractError } from './contract-error.js';
import { parseDocumentSource, type DocumentSource } from './document-source.js';
import { toContractError } from './library-errors.js';
import { isJsonObject, type OpenApiDocument } from './openapi-types.js';

/**
 * Reads an OpenAPI 3.0.x or 3.1.x document (YAML or JSON), validates it against the official
 * schema and replaces every `$ref` by its target, so later stages read plain objects. The result
 * is deep-frozen: the contract is read-only once loaded. Any failure is a ContractError.
 */
export async function loadOpenApiDocument(path: string): Promise<OpenApiDocument> {
  const source = parseDocumentSource(path, await readDocumentText(path));
  assertSupportedVersion(source);
  const document = await validateAndDereference(source);
  return deepFreeze(document);
}

async function readDocumentText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const reason = isJsonObject(err) && typeof err.code === 'string' ? err.code : 'unreadable';
    throw new ContractError(path, null, `cannot read the OpenAPI document (${reason})`, { cause: err });
  }
}

const SUPPORTED_VERSION = /^3\.[01]\.[0-9]+$/;

function assertSupportedVersion(source: DocumentSource): void {
  const { file, value } = source;
  if (!isJsonObject(value))
    throw new ContractError(file, null, 'expected an OpenAPI 3.0 or 3.1 document (an object)');
  if (value.swagger !== undefined) {
    const problem = `Swagger ${String(value.swagger)} is not supported: convert the document to OpenAPI 3.0 or 3.1`;
    throw new ContractError(file, '/swagger', problem + source.lineOf('/swagger'));
  }
  const version = value.openapi;
  if (typeof version !== 'string') {
    const problem = 'missing "openapi" version string: expected "3.0.x" or "3.1.x" (quoted in YAML)';
    throw new ContractError(file, '/openapi', problem);
  }
  if (!SUPPORTED_VERSION.test(version)) {
    const problem = `OpenAPI ${version} is not supported: expected 3.0.x or 3.1.x`;
    throw new ContractError(file, '/openapi', problem + source.lineOf('/openapi'));
  }
}

async function validateAndDereference(source: DocumentSource): Promise<OpenApiDocument> {
  const circularRefs: string[] = [];
  const options: SwaggerParser.Options = {
    // Start-up must not depend on the network, nor fetch what an attacker could swap: local files only.
    resolve: { external: true, http: false },
    // Validators are compiled ahead of time from these objects; a self-containing schema cannot be.
    dereference: { circular: false, onCircular: (ref: string) => circularRefs.push(ref) },
    // Keep the parsed value intact, to locate a broken $ref in it if dereferencing fails.
    mutateInputSchema: false,
  };
  let result: unknown;
  try {
    // The file path is the base URL that relative external $refs resolve against.
    result = await new SwaggerParser().validate(source.file, source.value as never, options);
  } catch (err) {
    throw toContractError(source, err, circularRefs);
  }
  return asOpenApiDocument(source.file, result);
}

function asOpenApiDocument(file: string, value: unknown): OpenApiDocument {
  if (!isJsonObject(value) || typeof value.openapi !== 'string' || !isJsonObject(value.info)) {
    throw new ContractError(file, null, 'the validated document has no "openapi" version or "info"');
  }
  return value as OpenApiDocument;
}

/** Freezes every object reachable from `value`; shared `$ref` targets are visited once. */
function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  const seen = new Set<unknown>();
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    Object.freeze(next);
    pending.push(...Object.values(next));
  }
  return value;
}
