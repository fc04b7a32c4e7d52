import { Ajv2020 } from 'ajv/dist/2020.js';
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
 * ```
 */
export type PolicyReference =
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'inline'; readonly name: string; readonly policy: RateLimitPolicyConfig };

export interface LoginMarker {
  /** The body field holding the username; null = limit per address only. */
  readonly usernameField: string | null;
}

const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const FIELD_NAME = /^[A-Za-z0-9_-]{1,64}$/;

// Compiled once, at import; the config file's policies and the contract's share one schema.
const ajv = new Ajv2020({ allErrors: false, useDefaults: true, allowUnionTypes: true });
ajv.addKeyword('hint');
const validateInline = ajv.compile<RateLimitPolicyConfig & { name: string }>({
  ...rateLimitPolicySchema,
  required: ['name', 'limit'],
  properties: { name: { type: 'string', pattern: POLICY_NAME.source }, ...rateLimitPolicySchema.properties },
});

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
    const error = validateInline.errors?.[0];
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

export function readLoginMarker(operation: Operation, file: string): LoginMarker | null {
  const raw = operation.operation['x-gatehouse-login'];
  if (raw === undefined || raw === false) return null;
  if (raw === true) return { usernameField: null };
  const field =
    typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).usernameField : undefined;
  if (typeof field === 'string' && FIELD_NAME.test(field)) return { usernameField: field };
  throw new ContractError(
    file,
    pointerTo(operation, ['x-gatehouse-login']),
    'write x-gatehouse-login: true, or { usernameField: <top-level body field> }',
  );
}

function pointerTo(operation: Operation, tokens: readonly (string | number)[]): string {
  return toJsonPointer(['paths', operation.documentPath, operation.method.toLowerCase(), ...tokens]);
}
