import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { rateLimitPolicySchema } from '../config/schema.js';
import type { RateLimitPolicyConfig } from '../config/types.js';
import { ContractError, toJsonPointer } from '../contract/contract-error.js';
import type { Operation } from '../contract/index.js';

/**
 * The contract's say in the limits, per operation:
 *
 * ```yaml
 * x-gatehouse-rate-limit: per-user                  # a policy of rateLimits.policies, or a list of
 * x-gatehouse-rate-limit:                           # names and inline policies (each with a name)
 *   - per-user
 *   - { name: transfers, key: [principal], limit: 10, window: 1m }
 * x-gatehouse-login: { usernameField: username }    # brute-force protection (or: true)
 * x-gatehouse-login:                                # an API that responds to a failed login with 200
 *   usernameField: username
 *   failedWhen:                                     # a 2xx answer is a failure when one holds
 *     - { pointer: /message, equals: wrong password }
 *     - { pointer: /token, absent: true }
 * ```
 */
export type PolicyReference =
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'inline'; readonly name: string; readonly policy: RateLimitPolicyConfig };

export interface LoginMarker {
  /** The body field holding the username; null = limit per address only. */
  readonly usernameField: string | null;
  /** Tests on a 2xx answer's JSON body, any of which makes it a failed login; empty = by status only. */
  readonly failedWhen: readonly ResponseTest[];
}

/** One test on a JSON answer at an RFC 6901 pointer. */
export interface ResponseTest {
  readonly tokens: readonly string[];
  readonly test: 'present' | 'absent' | 'equals';
  /** For `equals`: the scalar the value must be (compared as JSON values). */
  readonly value: string | number | boolean | null;
  /** As written, for the journey record. */
  readonly text: string;
}

const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const FIELD_NAME = /^[A-Za-z0-9_-]{1,64}$/;

type InlinePolicyValidator = ValidateFunction<RateLimitPolicyConfig & { name: string }>;
let inlinePolicyValidator: InlinePolicyValidator | null = null;

/**
 * The check of an inline policy, compiled on first use (the config file's policies and the
 * contract's share one schema): a contract without one never pays for the compiler (~0.1 s).
 */
function validateInline(value: unknown): value is RateLimitPolicyConfig & { name: string } {
  if (inlinePolicyValidator === null) {
    const ajv = new Ajv2020({ allErrors: false, useDefaults: true, allowUnionTypes: true });
    ajv.addKeyword('hint');
    inlinePolicyValidator = ajv.compile<RateLimitPolicyConfig & { name: string }>({
      ...rateLimitPolicySchema,
      required: ['name', 'limit'],
      properties: {
        name: { type: 'string', pattern: POLICY_NAME.source },
        ...rateLimitPolicySchema.properties,
      },
    });
  }
  return inlinePolicyValidator(value);
}

export function readPolicyReferences(operation: Operation, file: string): PolicyReference[] {
  const raw = operation.operation['x-gatehouse-rate-limit'];
  if (raw === undefined) return [];
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  return list.map((item, i) => readReference(item, Array.isArray(raw) ? [i] : [], operation, file));
}

function readReference(item: unknown, at: number[], operation: Operation, file: string): PolicyReference {
  const pointer = pointerTo(operation, ['x-gatehouse-rate-limit', ...at]);
  if (typeof item === 'string') {
    if (POLICY_NAME.test(item)) return { kind: 'named', name: item };
    throw new ContractError(file, pointer, `"${item.slice(0, 64)}" is not a policy name`);
  }
  // The loaded document is frozen and shared: validate (and fill defaults into) a copy.
  const copy: unknown = structuredClone(item);
  if (!validateInline(copy)) {
    const error = inlinePolicyValidator?.errors?.[0];
    const where = error === undefined || error.instancePath === '' ? '' : ` at ${error.instancePath}`;
    throw new ContractError(
      file,
      pointer,
      `invalid rate-limit policy${where}: ${error?.message ?? 'not a policy'}; give a policy name, or a mapping with name, limit and window (rate) or period (quota)`,
    );
  }
  const { name, ...policy } = copy;
  return { kind: 'inline', name, policy };
}

const LOGIN_HINT =
  'write x-gatehouse-login: true, or a mapping with usernameField: <top-level body field> and/or failedWhen: [{ pointer: /message, equals: wrong password }, { pointer: /token, absent: true }]';

export function readLoginMarker(operation: Operation, file: string): LoginMarker | null {
  const raw = operation.operation['x-gatehouse-login'];
  if (raw === undefined || raw === false) return null;
  if (raw === true) return { usernameField: null, failedWhen: [] };
  const fail = (at: readonly (string | number)[], problem: string): never => {
    throw new ContractError(file, pointerTo(operation, ['x-gatehouse-login', ...at]), problem);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail([], LOGIN_HINT);
  const { usernameField, failedWhen, ...rest } = raw as Record<string, unknown>;
  const [unknown] = Object.keys(rest);
  if (unknown !== undefined) fail([unknown], `unknown field "${unknown}": ${LOGIN_HINT}`);
  if (usernameField === undefined && failedWhen === undefined) fail([], LOGIN_HINT);
  if (usernameField !== undefined && (typeof usernameField !== 'string' || !FIELD_NAME.test(usernameField))) {
    fail(['usernameField'], `usernameField must name a top-level body field: ${LOGIN_HINT}`);
  }
  return {
    usernameField: (usernameField as string | undefined) ?? null,
    failedWhen: readResponseTests(failedWhen, fail),
  };
}

function readResponseTests(
  raw: unknown,
  fail: (at: readonly (string | number)[], problem: string) => never,
): ResponseTest[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length === 0)
    fail(['failedWhen'], `failedWhen must be a non-empty list: ${LOGIN_HINT}`);
  return (raw as unknown[]).map((item, i) =>
    readResponseTest(item, (problem) => fail(['failedWhen', i], problem)),
  );
}

function readResponseTest(item: unknown, fail: (problem: string) => never): ResponseTest {
  const hint =
    'write { pointer: /field, present: true }, { pointer: /field, absent: true } or { pointer: /field, equals: <value> }';
  if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(hint);
  const { pointer, present, absent, equals, ...rest } = item as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof pointer !== 'string') fail(hint);
  const tokens = parseJsonPointer(pointer as string);
  if (tokens === null)
    fail(`"${String(pointer).slice(0, 64)}" is not a JSON pointer (RFC 6901) such as /message`);
  const tests = [present === true, absent === true, equals !== undefined].filter(Boolean).length;
  if (tests !== 1 || present === false || absent === false) fail(hint);
  if (equals !== undefined && equals !== null && !['string', 'number', 'boolean'].includes(typeof equals)) {
    fail('equals takes a string, number, boolean or null');
  }
  const test = present === true ? 'present' : absent === true ? 'absent' : 'equals';
  const value = (equals ?? null) as ResponseTest['value'];
  const text =
    test === 'equals' ? `${String(pointer)} == ${JSON.stringify(value)}` : `${String(pointer)} ${test}`;
  return { tokens: tokens!, test, value, text };
}

/** RFC 6901: "" is the whole document; otherwise "/"-separated tokens with ~1 for "/" and ~0 for "~". */
function parseJsonPointer(pointer: string): string[] | null {
  if (pointer === '') return [];
  if (!pointer.startsWith('/') || /~[^01]|~$/.test(pointer)) return null;
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Whether one of the tests holds on a parsed answer (undefined when it was not JSON). */
export function responseFailsLogin(tests: readonly ResponseTest[], response: unknown): ResponseTest | null {
  for (const test of tests) {
    const found = valueAt(response, test.tokens);
    const holds =
      test.test === 'present'
        ? found.present
        : test.test === 'absent'
          ? !found.present
          : found.present && found.value === test.value;
    if (holds) return test;
  }
  return null;
}

function valueAt(response: unknown, tokens: readonly string[]): { present: boolean; value: unknown } {
  let value = response;
  if (value === undefined) return { present: false, value };
  for (const token of tokens) {
    if (Array.isArray(value) && /^(0|[1-9][0-9]*)$/.test(token) && Number(token) < value.length) {
      value = value[Number(token)];
    } else if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.hasOwn(value, token)
    ) {
      value = (value as Record<string, unknown>)[token];
    } else return { present: false, value: undefined };
  }
  return { present: true, value };
}

function pointerTo(operation: Operation, tokens: readonly (string | number)[]): string {
  return toJsonPointer(['paths', operation.documentPath, operation.method.toLowerCase(), ...tokens]);
}
