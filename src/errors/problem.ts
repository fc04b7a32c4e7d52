import { errorCatalogue, type ErrorCode } from './catalogue.js';

/** Base of the problem `type` URIs (RFC 9457 §3.1.1): stable, documented in the README's catalogue. */
export const PROBLEM_TYPE_BASE = 'https://gatehouse.dev/problems/';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly instance: string;
}

/** Problem `type` slug for a code: GH_ROUTE_NOT_FOUND → route-not-found. */
export function problemTypeFor(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.slice(3).toLowerCase().replaceAll('_', '-');
}

const precomputed = new Map<ErrorCode, { type: string; title: string; status: number }>();
for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
  const { status, title } = errorCatalogue[code];
  precomputed.set(code, { type: problemTypeFor(code), title, status });
}

/**
 * The RFC 9457 body for a refusal. `instance` is the request id (a URN, §3.1.5), the only
 * request-specific value: nothing the client sent and nothing internal is echoed.
 */
export function problemBody(code: ErrorCode, requestId: string): string {
  const base = precomputed.get(code) ?? precomputed.get('GH_INTERNAL')!;
  const problem: Problem = { ...base, instance: `urn:uuid:${requestId}` };
  return JSON.stringify(problem);
}
