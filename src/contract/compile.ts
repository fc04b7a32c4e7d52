import type { ApiConfig } from '../config/types.js';
import { ContractError, toJsonPointer } from './contract-error.js';
import {
  asJsonObjectArray,
  isJsonObject,
  OPENAPI_METHODS,
  type JsonObject,
  type OpenApiDocument,
} from './openapi-types.js';
import { parsePathTemplate, TemplateSyntaxError, type ParsedTemplate } from './path-template.js';
import type { CompiledApi, Operation } from './operation.js';
import { assertNoTemplateConflicts } from './template-conflicts.js';

/**
 * The x-gatehouse-* marks Gatehouse reads, all on an operation. Any other mark is refused: a
 * misspelt one (`x-gatehouse-scope`) would otherwise be ignored, and the scope it meant to require
 * with it.
 */
export const OPERATION_MARKS: ReadonlySet<string> = new Set([
  'x-gatehouse-public',
  'x-gatehouse-scopes',
  'x-gatehouse-require',
  'x-gatehouse-forward-credentials',
  'x-gatehouse-rate-limit',
  'x-gatehouse-login',
  'x-gatehouse-allow-unknown-query',
  'x-gatehouse-max-body-bytes',
]);
const MARK_PREFIX = 'x-gatehouse-';

/** Compiles one loaded document into its operations; any inconsistency is a ContractError. */
export function compileApi(api: ApiConfig, doc: OpenApiDocument): CompiledApi {
  assertNoMarks(api.openapi, doc as JsonObject, [], 'the document');
  const basePath = normaliseBasePath(api);
  const upstreamPathPrefix = upstreamPrefixOf(api);
  const operations: Operation[] = [];
  const templates: ParsedTemplate[] = [];
  for (const [documentPath, pathItem] of Object.entries(doc.paths ?? {})) {
    if (!documentPath.startsWith('/')) continue; // "x-" extensions of the Paths Object
    const parsed = parseDocumentPath(api.openapi, basePath, documentPath);
    for (const operation of compilePathItem(api, doc, documentPath, pathItem, parsed, upstreamPathPrefix)) {
      operations.push(operation);
      templates.push(parsed);
    }
  }
  assertUniqueOperationIds(api.openapi, operations);
  assertNoTemplateConflicts(
    operations.map((operation, i) => ({ operation, parsed: templates[i]!, file: api.openapi })),
  );
  return Object.freeze({
    name: api.name,
    file: api.openapi,
    basePath,
    document: doc,
    operations: Object.freeze(operations),
    forwardCredentials: api.forwardCredentials === true,
  });
}

function normaliseBasePath(api: ApiConfig): string {
  const trimmed = api.basePath.endsWith('/') ? api.basePath.slice(0, -1) : api.basePath;
  if (trimmed === '') return '';
  try {
    const parsed = parsePathTemplate(trimmed);
    if (parsed.paramNames.length === 0) return trimmed;
  } catch (err) {
    if (!(err instanceof TemplateSyntaxError)) throw err;
  }
  throw new ContractError(
    api.openapi,
    null,
    `basePath "${api.basePath}" of api "${api.name}" must be a plain path such as "/bank"`,
  );
}

function upstreamPrefixOf(api: ApiConfig): string {
  // The config loader has already validated the URL; a bad one here is a caller bug.
  const pathname = new URL(api.upstream.url).pathname;
  return pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

function parseDocumentPath(file: string, basePath: string, documentPath: string): ParsedTemplate {
  try {
    return parsePathTemplate(basePath + documentPath);
  } catch (err) {
    if (!(err instanceof TemplateSyntaxError)) throw err;
    throw new ContractError(
      file,
      toJsonPointer(['paths', documentPath]),
      `invalid path template: ${err.message}`,
    );
  }
}

function* compilePathItem(
  api: ApiConfig,
  doc: OpenApiDocument,
  documentPath: string,
  pathItem: JsonObject,
  parsed: ParsedTemplate,
  upstreamPathPrefix: string,
): Generator<Operation> {
  const pathItemParameters = Object.freeze(asJsonObjectArray(pathItem.parameters));
  assertNoMarks(api.openapi, pathItem, ['paths', documentPath], 'a path item');
  for (const method of OPENAPI_METHODS) {
    const operation = pathItem[method];
    if (!isJsonObject(operation)) continue;
    const pointer = toJsonPointer(['paths', documentPath, method]);
    assertKnownMarks(api.openapi, operation, ['paths', documentPath, method]);
    const parameters = mergeParameters(pathItemParameters, asJsonObjectArray(operation.parameters));
    assertPathParametersMatch(api.openapi, pointer, parsed, parameters);
    yield Object.freeze({
      apiName: api.name,
      operationId: typeof operation.operationId === 'string' ? operation.operationId : null,
      method: method.toUpperCase(),
      template: parsed.template,
      documentPath,
      upstreamPathPrefix,
      pathParamNames: parsed.paramNames,
      operation,
      pathItemParameters,
      parameters,
      security: asJsonObjectArray(operation.security ?? doc.security),
      securitySchemes: isJsonObject(doc.components?.securitySchemes) ? doc.components.securitySchemes : {},
    });
  }
}

/** Refuses an x-gatehouse-* mark on an operation that Gatehouse does not read. */
function assertKnownMarks(file: string, operation: JsonObject, at: readonly string[]): void {
  for (const key of Object.keys(operation)) {
    if (!key.startsWith(MARK_PREFIX) || OPERATION_MARKS.has(key)) continue;
    throw new ContractError(
      file,
      toJsonPointer([...at, key]),
      `unknown mark ${key}: Gatehouse reads ${[...OPERATION_MARKS].join(', ')}; correct its spelling or remove it`,
    );
  }
}

/** Refuses an x-gatehouse-* mark where Gatehouse reads none: the marks belong on operations. */
function assertNoMarks(file: string, object: JsonObject, at: readonly string[], where: string): void {
  const mark = Object.keys(object).find((key) => key.startsWith(MARK_PREFIX));
  if (mark === undefined) return;
  throw new ContractError(
    file,
    toJsonPointer([...at, mark]),
    `${mark} on ${where} is not read: Gatehouse reads its marks on each operation; move it there`,
  );
}

/** OpenAPI Operation Object: an operation parameter overrides the path item's with the same name and `in`. */
function mergeParameters(
  pathItemParameters: readonly JsonObject[],
  operationParameters: readonly JsonObject[],
) {
  const byKey = new Map<string, JsonObject>();
  for (const parameter of [...pathItemParameters, ...operationParameters]) {
    byKey.set(`${String(parameter.in)}\u0000${String(parameter.name)}`, parameter);
  }
  return Object.freeze([...byKey.values()]);
}

/**
 * Every {name} in the template needs an `in: path` parameter (it is what gets validated), and
 * every path parameter must appear in the template (OpenAPI Parameter Object, `name`).
 */
function assertPathParametersMatch(
  file: string,
  pointer: string,
  parsed: ParsedTemplate,
  parameters: readonly JsonObject[],
) {
  const declared = new Set(parameters.filter((p) => p.in === 'path').map((p) => String(p.name)));
  const documentNames = parsed.paramNames;
  for (const name of documentNames) {
    if (!declared.has(name))
      throw new ContractError(
        file,
        pointer,
        `{${name}} is in the path but no "in: path" parameter declares it`,
      );
  }
  for (const name of declared) {
    if (!documentNames.includes(name))
      throw new ContractError(file, pointer, `path parameter "${name}" is not in the path template`);
  }
}

/** operationId is unique within a document (OpenAPI Operation Object); policies are keyed by it. */
function assertUniqueOperationIds(file: string, operations: readonly Operation[]): void {
  const seen = new Map<string, Operation>();
  for (const operation of operations) {
    if (operation.operationId === null) continue;
    const first = seen.get(operation.operationId);
    if (first !== undefined) {
      const pointer = toJsonPointer([
        'paths',
        operation.documentPath,
        operation.method.toLowerCase(),
        'operationId',
      ]);
      const problem = `operationId "${operation.operationId}" is already used by ${first.method} ${first.documentPath}`;
      throw new ContractError(file, pointer, problem);
    }
    seen.set(operation.operationId, operation);
  }
}
