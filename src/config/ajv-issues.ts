import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import { loadBuilt } from './built-code.js';
import { formatPath, type ConfigPath, type IssueList } from './issues.js';
import { configSchema, type ConfigFile } from './schema.js';

/** How the configuration schema is compiled, here and by tools/build-config-validator.mjs. */
export const CONFIG_AJV_OPTIONS: Options = {
  allErrors: true,
  useDefaults: true,
  verbose: true,
  allowUnionTypes: true,
};
/** The schema's own keyword: the hint an issue shows. */
export const CONFIG_AJV_KEYWORDS = ['hint'];

/**
 * The SHA-256 of what a validator is compiled from (the schema, the options, the keywords and the
 * ajv that compiles it), which one compiled ahead of time must carry to be used.
 */
export function configSchemaDigest(): string {
  const { version } = createRequire(import.meta.url)('ajv/package.json') as { version: string };
  const source = {
    schema: configSchema,
    options: CONFIG_AJV_OPTIONS,
    keywords: CONFIG_AJV_KEYWORDS,
    ajv: version,
  };
  return createHash('sha256').update(JSON.stringify(source)).digest('hex');
}

/**
 * Once, at import: the validator `npm run build` compiled from this very schema
 * (dist/config/config-validator.cjs; loading it takes ~20 ms where compiling takes ~200), or else
 * the schema compiled now (the sources run by the tests, or a stale build).
 */
const validateConfig: ValidateFunction<ConfigFile> = builtValidator() ?? compiledValidator();

function builtValidator(): ValidateFunction<ConfigFile> | null {
  return loadBuilt<ValidateFunction<ConfigFile> & { schemaDigest?: unknown }>(
    import.meta.url,
    './config-validator.cjs',
    (built) => built.schemaDigest === configSchemaDigest(),
  );
}

/** The schema compiled in this process. */
export function compiledValidator(): ValidateFunction<ConfigFile> {
  const ajv = new Ajv2020(CONFIG_AJV_OPTIONS);
  for (const keyword of CONFIG_AJV_KEYWORDS) ajv.addKeyword(keyword);
  return ajv.compile<ConfigFile>(configSchema);
}

/**
 * Checks `data` against the schema, filling in defaults (it is modified in place), and adds one
 * issue per problem to `issues`. Returns whether the shape is valid.
 */
export function checkShape(data: unknown, issues: IssueList): data is ConfigFile {
  if (validateConfig(data)) return true;
  const seen = new Set<string>();
  for (const error of validateConfig.errors ?? []) {
    const issue = translateError(error, data);
    // The tls union can report one wrong type twice (the union, then its mapping branch).
    const key = issue && `${formatPath(issue.at)}\0${error.keyword === 'type' ? 'type' : issue.message}`;
    if (!issue || !key || seen.has(key)) continue;
    seen.add(key);
    issues.add(issue.at, issue.message, issue.hint);
  }
  return false;
}

interface Translated {
  readonly at: ConfigPath;
  readonly message: string;
  readonly hint: string;
}

/** Turns one ajv error into words an operator can act on; ajv's own text is only a last resort. */
function translateError(error: ErrorObject, root: unknown): Translated | null {
  const at = pointerToPath(error.instancePath, root);
  const schema: Record<string, unknown> = error.parentSchema ?? {};
  const schemaHint = typeof schema.hint === 'string' ? schema.hint : null;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'if':
      return null; // the branch that failed reports the real problem
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(propertiesOf(schema));
      return { at: [...at, key], message: `unknown key "${key}"`, hint: unknownKeyHint(key, allowed) };
    }
    case 'required': {
      const key = String(params.missingProperty);
      const example = examplesOf(propertiesOf(schema)[key]);
      const hint = example === null ? 'add it' : `add it, e.g. ${key}: ${example}`;
      return { at: [...at, key], message: `"${key}" is missing`, hint };
    }
    case 'dependentRequired': {
      const [present, missing] = [String(params.property), String(params.missingProperty)];
      return {
        at: [...at, missing],
        message: `"${present}" is set but "${missing}" is not`,
        hint: `set both ${present} and ${missing}, or neither`,
      };
    }
    case 'type':
      return typeIssue(at, String(params.type).split(','), error.data, schema);
    case 'minimum':
    case 'maximum':
      return rangeIssue(at, error.keyword, schema);
    case 'minItems':
      return { at, message: 'is empty', hint: schemaHint ?? 'add at least one entry' };
    case 'minLength':
      return { at, message: 'is empty', hint: schemaHint ?? 'give it a value' };
    case 'maxLength':
      return {
        at,
        message: `is longer than ${String(params.limit)} characters`,
        hint: schemaHint ?? 'shorten it',
      };
    case 'pattern':
      return {
        at,
        message: `${show(error.data)} is not allowed here`,
        hint: schemaHint ?? 'check its format',
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String).join(', ');
      return {
        at,
        message: `${show(error.data)} is not one of: ${allowed}`,
        hint: schemaHint ?? `use one of: ${allowed}`,
      };
    }
    case 'const':
      return {
        at,
        message: 'is not a recognised value',
        hint: schemaHint ?? `use ${String(params.allowedValue)}`,
      };
    default:
      return {
        at,
        message: `is not valid (${error.message ?? error.keyword})`,
        hint: schemaHint ?? 'check it',
      };
  }
}

const typeNames: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  array: 'a list (lines starting with "- ")',
  null: 'nothing',
};

function typeIssue(
  at: ConfigPath,
  expected: string[],
  data: unknown,
  schema: Record<string, unknown>,
): Translated {
  const wanted = expected.map((t) => typeNames[t] ?? t).join(' or ');
  let hint = `expected ${wanted}`;
  if (expected.includes('integer') && typeof data === 'string' && /^\s*-?\d+\s*$/.test(data)) {
    hint += ': write the number without quotes';
  } else if (data === null && schema.default !== undefined) {
    hint += ', or remove the key to use the default';
  } else if (typeof schema.hint === 'string') hint += `; ${schema.hint}`;
  return { at, message: `must be ${wanted}, not ${describeValue(data)}`, hint };
}

function rangeIssue(at: ConfigPath, keyword: string, schema: Record<string, unknown>): Translated {
  const { minimum, maximum } = schema as { minimum?: number; maximum?: number };
  const message = keyword === 'minimum' ? `must be at least ${minimum}` : `must be at most ${maximum}`;
  const hint =
    minimum !== undefined && maximum !== undefined
      ? `use a whole number from ${minimum} to ${maximum}`
      : `use a whole number of at least ${minimum ?? 0}`;
  return { at, message, hint: typeof schema.hint === 'string' ? `${hint}; ${schema.hint}` : hint };
}

function describeValue(data: unknown): string {
  if (data === null || data === undefined) return 'an empty value';
  if (Array.isArray(data)) return 'a list';
  if (typeof data === 'object') return 'a mapping';
  if (typeof data === 'number' && !Number.isInteger(data)) return 'a fractional number';
  return typeNames[typeof data] ?? typeof data;
}

/** Quotes a short one-line value (names, levels); anything else could be pasted secret material. */
function show(data: unknown): string {
  return typeof data === 'string' && data.length <= 40 && !/[\r\n]/.test(data)
    ? JSON.stringify(data)
    : 'the value';
}

function unknownKeyHint(key: string, allowed: readonly string[]): string {
  const close = allowed.find((name) => isCloseSpelling(key, name));
  const guess = close === undefined ? '' : `did you mean "${close}"? `;
  return `${guess}remove it, or check the spelling; allowed keys here: ${allowed.join(', ')}`;
}

/** Same letters ignoring case, or at most two edits apart (Levenshtein) for keys over 3 letters. */
function isCloseSpelling(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true;
  if (Math.min(a.length, b.length) <= 3 || Math.abs(a.length - b.length) > 2) return false;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]! <= 2;
}

function propertiesOf(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = schema.properties;
  return typeof properties === 'object' && properties !== null ? (properties as Record<string, unknown>) : {};
}

function examplesOf(schema: unknown): string | null {
  const examples = (schema as { examples?: unknown[] } | undefined)?.examples;
  return examples?.[0] === undefined ? null : String(examples[0]);
}

/** "/apis/0/upstream" → ['apis', 0, 'upstream'] (RFC 6901), numbering only real list indexes. */
function pointerToPath(pointer: string, root: unknown): (string | number)[] {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const segment = Array.isArray(node) ? Number(token) : token;
    out.push(segment);
    node =
      typeof node === 'object' && node !== null
        ? (node as Record<string | number, unknown>)[segment]
        : undefined;
  }
  return out;
}
