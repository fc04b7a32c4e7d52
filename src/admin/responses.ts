import { GatehouseError } from '../errors/gatehouse-error.js';

export interface AdminResponse {
  readonly status: number;
  /** JSON body; or, with `contentType`, text or bytes sent as they are (metrics, dashboard pages). */
  readonly body: unknown;
  readonly contentType?: string;
  /** Content-Security-Policy in place of the API's `default-src 'none'` (dashboard pages). */
  readonly csp?: string;
  /** More response header name/value pairs (Set-Cookie, Location). */
  readonly headers?: readonly string[];
  /** The route template, for the log: never the raw path. */
  readonly route: string;
}

/** The body as a record holding only `allowed` fields: an unknown field is refused, not ignored. */
export function expectFields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'admin body must be a JSON object');
  }
  const unknownField = Object.keys(body).find((name) => !allowed.includes(name));
  if (unknownField !== undefined) {
    throw new GatehouseError(
      'GH_ADMIN_BAD_REQUEST',
      `unknown field in admin body: ${unknownField.slice(0, 40)}`,
    );
  }
  return body as Record<string, unknown>;
}

export function methodNotAllowed(allow: string, route: string): GatehouseError {
  return new GatehouseError('GH_ADMIN_METHOD_NOT_ALLOWED', `method not allowed on ${route}`, { allow });
}
