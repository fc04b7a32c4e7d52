import { errorCatalogue, type ErrorCode } from './catalogue.js';

/** Base of the problem `type` URIs (RFC 9457 §3.1.1): stable, documented in docs/problems.md. */
export const PROBLEM_TYPE_BASE = 'https://gatehouse.dev/problems/';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly instance: string;
}

/** Problem `type` slug for a code: GH_ROUTE_NOT_FOUND → route-not-found. */
export function problemTypeFor(code: ErrorCode): string {
  const entry = errorCatalogue[code];
  const named = 'problemType' in entry ? entry.problemType : null;
  return PROBLEM_TYPE_BASE + (named ?? code.slice(3).toLowerCase().replaceAll('_', '-'));
}

const precomputed = new Map<ErrorCode, { type: string; title: string; status: number }>();
for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
  const { status, title } = errorCatalogue[code];
  precomputed.set(code, { type: problemTypeFor(code), title, status });
}

/** A refused field and the rule it broke, e.g. `{ field: 'amount', rule: 'must be an integer ≥ 1' }`. */
export interface ProblemFieldError {
  readonly field: string;
  readonly rule: string;
}

/**
 * The RFC 9457 body for a refusal. `instance` is the request id (a URN, §3.1.5), the only
 * request-specific value: nothing the client sent and nothing internal is echoed. `errors`, an
 * extension member (§3.2), lists refused fields as the gateway words them.
 */
export function problemBody(
  code: ErrorCode,
  requestId: string,
  errors?: readonly ProblemFieldError[],
): string {
  const base = precomputed.get(code) ?? precomputed.get('GH_INTERNAL')!;
  const problem: Problem = { ...base, instance: `urn:uuid:${requestId}` };
  if (errors === undefined || errors.length === 0) return JSON.stringify(problem);
  const fields = errors.map(({ field, rule }) => ({ field, rule }));
  return JSON.stringify({ ...problem, errors: fields });
}
