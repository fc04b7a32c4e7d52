import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { ApiConfig, SecurityRequirement } from '../config/types.js';
import { ContractError } from './contract-error.js';
import { withDefaultSecurity } from './default-security.js';
import { readDocumentSource, type DocumentSource } from './document-source.js';
import { toContractError } from './library-errors.js';
import { checkAgainstSchema, checkSpecRules } from './openapi-schema-check.js';
import { isJsonObject, type OpenApiDocument } from './openapi-types.js';
import { overlaidSource } from './overlay.js';

/**
 * Reads an OpenAPI 3.0.x or 3.1.x document (YAML or JSON), applies the OpenAPI Overlay 1.0 files
 * `overlays` to it in order, validates the result against the official schema and replaces every
 * `$ref` by its target, so later stages read plain objects. Relative `$ref`s resolve against the
 * document's own file. The result is deep-frozen: the contract is read-only once loaded. Any
 * failure is a ContractError.
 */
export async function loadOpenApiDocument(
  path: string,
  overlays: readonly string[] = [],
): Promise<OpenApiDocument> {
  return loadDocument(path, overlays, null);
}

/** The document of one configured API, as its `overlays` and `defaultSecurity` make it. */
export async function loadApiDocument(
  api: Pick<ApiConfig, 'name' | 'openapi' | 'overlays' | 'defaultSecurity'>,
): Promise<OpenApiDocument> {
  const defaultSecurity =
    api.defaultSecurity === undefined ? null : { apiName: api.name, requirements: api.defaultSecurity };
  return loadDocument(api.openapi, api.overlays ?? [], defaultSecurity);
}

interface DefaultSecurity {
  readonly apiName: string;
  readonly requirements: readonly SecurityRequirement[];
}

async function loadDocument(
  path: string,
  overlays: readonly string[],
  defaultSecurity: DefaultSecurity | null,
): Promise<OpenApiDocument> {
  const original = await readDocumentSource(path, 'OpenAPI document');
  // Checked before the overlays too: a Swagger 2.0 file should say so, not "target matches nothing".
  assertSupportedVersion(original);
  const source = await overlaidSource(original, overlays);
  const document = await namingOverlays(overlays, async () => {
    if (source !== original) assertSupportedVersion(source);
    const secured =
      defaultSecurity === null
        ? source
        : withDefaultSecurity(source, defaultSecurity.apiName, defaultSecurity.requirements);
    return validateAndDereference(secured);
  });
  return document;
}

/**
 * Once overlays have changed the document, a fault may come from them rather than from the file
 * the message names: say which overlays were applied, so the operator looks at both.
 */
async function namingOverlays<T>(overlays: readonly string[], step: () => Promise<T>): Promise<T> {
  if (overlays.length === 0) return step();
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    const problem = `${err.problem} (in the document as changed by the overlays ${overlays.join(', ')})`;
    throw new ContractError(err.file, err.pointer, problem, { cause: err });
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

/**
 * The last document validated for each file, with what it was made from: the value handed to the
 * validator (the document after overlays and default security) and the text of every file its
 * `$ref`s reached. A reload that changed none of them takes the frozen document as it is, instead
 * of blocking the event loop to resolve and check it again (without the validators the build
 * compiles, the schema's compilation alone takes ~0.1–0.3 s).
 */
const validated = new Map<string, ValidatedDocument>();

interface ValidatedDocument {
  readonly value: string;
  readonly referenced: ReadonlyMap<string, string>;
  readonly document: OpenApiDocument;
}

async function validateAndDereference(source: DocumentSource): Promise<OpenApiDocument> {
  const value = JSON.stringify(source.value);
  const known = validated.get(source.file);
  if (known !== undefined && known.value === value && (await unchanged(known.referenced))) {
    return known.document;
  }
  const parser = new SwaggerParser();
  const document = deepFreeze(await validateWith(parser, source));
  const referenced = await readReferenced(parser, source.file);
  validated.set(source.file, { value, referenced, document });
  return document;
}

/** The files other than `file` that the document's `$ref`s reached, with their text. */
async function readReferenced(parser: SwaggerParser, file: string): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const path of parser.$refs.paths('file')) {
    if (path === file) continue;
    texts.set(path, await readFile(path, 'utf8').catch(() => ''));
  }
  return texts;
}

async function unchanged(referenced: ReadonlyMap<string, string>): Promise<boolean> {
  for (const [path, text] of referenced) {
    if ((await readFile(path, 'utf8').catch(() => '')) !== text) return false;
  }
  return true;
}

/**
 * swagger-parser's `validate`, step by step, with the schema check from a validator compiled
 * ahead of time (openapi-schema-check.ts): `$ref`s resolved with circular ones left, the schema
 * checked, circular `$ref`s refused, then the rules the schema cannot say.
 */
async function validateWith(parser: SwaggerParser, source: DocumentSource): Promise<OpenApiDocument> {
  const circularRefs: string[] = [];
  const options: SwaggerParser.Options = {
    // Start-up must not depend on the network, nor fetch what an attacker could swap: local files only.
    resolve: { external: true, http: false },
    // Circular $refs are left in place for the schema check, then refused (below).
    dereference: { circular: 'ignore', onCircular: (ref: string) => circularRefs.push(ref) },
    // Keep the parsed value intact, to locate a broken $ref in it if dereferencing fails.
    mutateInputSchema: false,
  };
  let result: unknown;
  try {
    // The file path is the base URL that relative external $refs resolve against.
    result = await parser.dereference(source.file, source.value as never, options);
    if (!isJsonObject(result)) throw new SyntaxError('not an object');
    checkAgainstSchema(result);
    // Validators are compiled ahead of time from these objects; a self-containing schema cannot be.
    if (parser.$refs.circular) throw new ReferenceError('The API contains circular references');
    checkSpecRules(result);
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
