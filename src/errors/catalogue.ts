/**
 * Every way Gatehouse refuses a request, in one table: a stable code, the HTTP status, and the
 * generic title the client sees. The precise reason never goes to the client; it goes to the log
 * and the journey record as `GatehouseError.detail`.
 */
export const errorCatalogue = {
  GH_TRANSPORT_BAD_REQUEST: { status: 400, title: 'Bad request' },
  GH_TRANSPORT_PLAINTEXT: { status: 400, title: 'HTTPS is required' },
  GH_TRANSPORT_TIMEOUT: { status: 408, title: 'Request timeout' },
  GH_TRANSPORT_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  GH_TRANSPORT_URI_TOO_LONG: { status: 414, title: 'Request target too long' },
  GH_TRANSPORT_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  GH_ROUTE_NOT_FOUND: { status: 404, title: 'Not found' },
  GH_ROUTE_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  GH_ROUTE_BAD_PATH: { status: 400, title: 'Bad request' },
  GH_UPSTREAM_UNREACHABLE: { status: 502, title: 'Bad gateway' },
  GH_UPSTREAM_BAD_RESPONSE: { status: 502, title: 'Bad gateway' },
  GH_UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, title: 'Bad gateway' },
  GH_UPSTREAM_TIMEOUT: { status: 504, title: 'Gateway timeout' },
  GH_OVERLOADED: { status: 503, title: 'Service unavailable' },
  GH_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;
