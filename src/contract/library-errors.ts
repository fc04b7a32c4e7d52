import { ContractError, toJsonPointer } from './contract-error.js';
import type { DocumentSource } from './document-source.js';
import { isJsonObject } from './openapi-types.js';

/**
 * Turns whatever swagger-parser (and the $ref parser under it) threw into a ContractError that says
 * what is wrong and where. The library's classes are recognised by shape, not imported: they belong
 * to a transitive dependency. The original error stays reachable as `cause`.
 */
export function toContractError(
  source: DocumentSource,
  err: unknown,
  circularRefs: readonly string[],
): ContractError {
  if (err instanceof ContractError) return err;
  const circular = circularRefs[0];
  if (circular !== undefined) return circularRefError(source, circular, err);
  const schemaErrors = schemaValidationErrors(err);
  if (schemaErrors.length > 0) return schemaError(source, schemaErrors, err);
  const message = err instanceof Error ? err.message : String(err);
  const missingRef = missingPointerTarget(err);
  if (missingRef !== null) return refError(source, missingRef, `$ref "${missingRef}" points to nothing`, err);
  if (isResolverError(err))
    return new ContractError(source.file, null, `an external $ref cannot be read: ${message}`, {
      cause: err,
    });
  if (message.includes('Unable to resolve $ref pointer "http')) {
    return new ContractError(
      source.file,
      null,
      `${message}: $refs over HTTP are not fetched at start-up; bundle them into a local file`,
      { cause: err },
    );
  }
  return new ContractError(source.file, null, `not a valid OpenAPI document: ${message}`, { cause: err });
}

function circularRefError(source: DocumentSource, circularRef: string, err: unknown): ContractError {
  const hash = circularRef.indexOf('#');
  const pointer = hash === -1 ? null : circularRef.slice(hash + 1);
  const where = hash === -1 ? circularRef : circularRef.slice(0, hash);
  // Every schema is compiled ahead of time into a validator; a schema that contains itself cannot be.
  const problem = `circular $ref (a schema that contains itself, in ${where}) is not supported: bound the nesting depth explicitly`;
  return new ContractError(source.file, pointer, problem + (pointer === null ? '' : source.lineOf(pointer)), {
    cause: err,
  });
}

interface SchemaViolation {
  readonly instancePath: string;
  readonly message: string;
}

/** Combinator keywords only repeat their branches' failures; the branches say what to fix. */
const NOISE_KEYWORDS = new Set(['oneOf', 'anyOf', 'if', 'not']);
const MAX_REPORTED_VIOLATIONS = 5;

function schemaValidationErrors(err: unknown): SchemaViolation[] {
  if (typeof err !== 'object' || err === null || !('details' in err)) return [];
  const details = err.details;
  if (!Array.isArray(details)) return [];
  const violations: SchemaViolation[] = [];
  for (const detail of details) {
    if (!isJsonObject(detail) || typeof detail.instancePath !== 'string') continue;
    if (typeof detail.keyword === 'string' && NOISE_KEYWORDS.has(detail.keyword)) continue;
    violations.push({ instancePath: detail.instancePath, message: describeViolation(detail) });
  }
  return violations;
}

function describeViolation(detail: { readonly [key: string]: unknown }): string {
  const message = typeof detail.message === 'string' ? detail.message : 'is invalid';
  const params = detail.params;
  if (isJsonObject(params) && typeof params.additionalProperty === 'string') {
    return `${message} ("${params.additionalProperty}")`;
  }
  return message;
}

function schemaError(source: DocumentSource, violations: SchemaViolation[], err: unknown): ContractError {
  const lines = new Set<string>();
  for (const { instancePath, message } of violations) {
    lines.add(`${instancePath || '/'}${source.lineOf(instancePath)} ${message}`);
    if (lines.size === MAX_REPORTED_VIOLATIONS) break;
  }
  const first = violations[0]?.instancePath ?? '';
  const problem = `does not match the OpenAPI schema: ${[...lines].join('; ')}`;
  return new ContractError(source.file, first, problem, { cause: err });
}

function missingPointerTarget(err: unknown): string | null {
  if (!(err instanceof Error) || err.name !== 'MissingPointerError' || !('targetRef' in err)) return null;
  return typeof err.targetRef === 'string' ? err.targetRef : null;
}

function isResolverError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ResolverError';
}

function refError(source: DocumentSource, ref: string, problem: string, err: unknown): ContractError {
  const tokens = findRefLocation(source.value, ref);
  if (tokens === null) return new ContractError(source.file, null, problem, { cause: err });
  const pointer = toJsonPointer(tokens);
  return new ContractError(source.file, pointer, problem + source.lineOf(pointer), { cause: err });
}

/** Where in the document the object `{ $ref: ref }` sits, so the operator is sent to the cause. */
function findRefLocation(root: unknown, ref: string): string[] | null {
  const seen = new Set<unknown>();
  const walk = (value: unknown, tokens: string[]): string[] | null => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return null;
    seen.add(value);
    if (isJsonObject(value) && value.$ref === ref) return tokens;
    for (const [key, child] of Object.entries(value)) {
      const found = walk(child, [...tokens, key]);
      if (found !== null) return found;
    }
    return null;
  };
  return walk(root, []);
}
