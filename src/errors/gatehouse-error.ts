import { errorCatalogue, type ErrorCode } from './catalogue.js';
import type { ProblemFieldError } from './problem.js';

/**
 * The one error family of Gatehouse. A stage that refuses a request throws (or returns) one of
 * these; `detail` is for operators only and is never sent to the client.
 */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  /** Extra response headers the refusal needs (e.g. `Allow` on a 405). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /**
   * Which fields were refused and by which rule, worded by the gateway from the contract (never
   * a library message, never the value sent): sent as the problem's `errors` member.
   */
  readonly errors: readonly ProblemFieldError[] | undefined;

  constructor(
    code: ErrorCode,
    detail: string,
    headers?: Readonly<Record<string, string>>,
    errors?: readonly ProblemFieldError[],
  ) {
    // A refusal is an expected outcome, not a bug: capturing a stack trace for each one would
    // make refusing (a flood of 404s, say) costlier than serving.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}: ${detail}`);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'GatehouseError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.detail = detail;
    this.headers = headers;
    this.errors = errors;
  }
}

/** Anything thrown that is not ours becomes a generic internal error; its message stays in the log. */
export function toGatehouseError(err: unknown): GatehouseError {
  if (err instanceof GatehouseError) return err;
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown';
  return new GatehouseError('GH_INTERNAL', detail);
}
