/**
 * The lesson's threat table (DESIGN.md): which attack a refusal stopped. Metrics and the
 * dashboard count refusals by these; a refusal that stops no attack (an upstream that is down,
 * a malformed admin call) has none.
 */
export const THREATS = [
  'eavesdropping',
  'fake-callers',
  'privilege-abuse',
  'brute-force',
  'injection',
  'information-leakage',
] as const;
export type Threat = (typeof THREATS)[number];

/**
 * Every way Gatehouse refuses a request, in one table: a stable code, the HTTP status, and the
 * generic title the client sees. The precise reason never goes to the client; it goes to the log
 * and the journey record as `GatehouseError.detail`.
 */
export const errorCatalogue = {
  GH_TRANSPORT_BAD_REQUEST: { status: 400, title: 'Bad request', threat: 'injection' },
  GH_TRANSPORT_PLAINTEXT: { status: 400, title: 'HTTPS is required', threat: 'eavesdropping' },
  GH_TRANSPORT_TIMEOUT: { status: 408, title: 'Request timeout', threat: 'brute-force' },
  GH_TRANSPORT_BODY_TOO_LARGE: { status: 413, title: 'Request body too large', threat: 'brute-force' },
  GH_TRANSPORT_URI_TOO_LONG: { status: 414, title: 'Request target too long', threat: 'brute-force' },
  GH_TRANSPORT_EXPECTATION_FAILED: { status: 417, title: 'Expectation failed', threat: 'injection' },
  // RFC 9112 §6.1: a transfer coding the server does not understand.
  GH_TRANSPORT_NOT_IMPLEMENTED: { status: 501, title: 'Not implemented', threat: 'injection' },
  GH_TRANSPORT_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large', threat: 'brute-force' },
  GH_ROUTE_NOT_FOUND: { status: 404, title: 'Not found', threat: 'privilege-abuse' },
  GH_ROUTE_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', threat: 'privilege-abuse' },
  GH_ROUTE_BAD_PATH: { status: 400, title: 'Bad request', threat: 'injection' },
  GH_UPSTREAM_UNREACHABLE: { status: 502, title: 'Bad gateway', threat: null },
  GH_UPSTREAM_BAD_RESPONSE: { status: 502, title: 'Bad gateway', threat: 'information-leakage' },
  GH_UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, title: 'Bad gateway', threat: 'information-leakage' },
  GH_UPSTREAM_TIMEOUT: { status: 504, title: 'Gateway timeout', threat: null },
  GH_LIMIT_RATE_EXCEEDED: { status: 429, title: 'Too many requests', threat: 'brute-force' },
  GH_LIMIT_QUOTA_EXCEEDED: { status: 429, title: 'Quota exceeded', threat: 'brute-force' },
  GH_LIMIT_CONCURRENCY: { status: 429, title: 'Too many requests', threat: 'brute-force' },
  GH_LIMIT_STORE_UNAVAILABLE: { status: 503, title: 'Service unavailable', threat: null },
  GH_ADMIN_UNAUTHORIZED: { status: 401, title: 'Unauthorized', threat: 'fake-callers' },
  GH_ADMIN_NOT_FOUND: { status: 404, title: 'Not found', threat: null },
  GH_ADMIN_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', threat: null },
  GH_ADMIN_BAD_REQUEST: { status: 400, title: 'Bad request', threat: null },
  GH_ADMIN_CONFLICT: { status: 409, title: 'Conflict', threat: null },
  GH_ADMIN_BODY_TOO_LARGE: { status: 413, title: 'Request body too large', threat: null },
  GH_ADMIN_TOO_MANY_SIGN_INS: { status: 429, title: 'Too many requests', threat: 'brute-force' },
  GH_ADMIN_UNAVAILABLE: { status: 503, title: 'Service unavailable', threat: null },
  GH_ADMIN_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', threat: null },
  // One code per status for every authentication or authorization cause, so the body never
  // tells an attacker which check failed; the cause is in the detail (journey record, log).
  GH_AUTH_UNAUTHENTICATED: { status: 401, title: 'Unauthorized', threat: 'fake-callers' },
  GH_AUTH_FORBIDDEN: { status: 403, title: 'Forbidden', threat: 'privilege-abuse' },
  // Another caller's object, known from the upstream's response (`x-gatehouse-require` on `response.`),
  // and an object the upstream says is missing, on such an operation: one body for both, so the
  // answer never tells which objects exist. Only the first is a refusal.
  GH_OBJECT_NOT_FOUND: { status: 404, title: 'Not found', threat: 'privilege-abuse' },
  GH_OBJECT_ABSENT: { status: 404, title: 'Not found', threat: null, problemType: 'object-not-found' },
  // Request validation (src/contract/validation): the problem names the field and the rule in
  // `errors`, never the value sent.
  GH_VALIDATE_PARAMETER: { status: 400, title: 'Invalid request parameter', threat: 'injection' },
  GH_VALIDATE_BODY: { status: 400, title: 'Invalid request body', threat: 'injection' },
  GH_VALIDATE_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', threat: 'injection' },
  // One code for every way an upstream answer breaks its contract (undeclared status, wrong
  // content type, unparseable or refused body): which one is in the detail, not in the response.
  GH_UPSTREAM_CONTRACT_VIOLATION: { status: 502, title: 'Bad gateway', threat: 'information-leakage' },
  // Not a refusal: the gateway's own response to an allowed CORS preflight (Fetch standard, §3.2.2).
  GH_CORS_PREFLIGHT: { status: 204, title: 'No content', threat: null },
  // An address, consumer or key banned by an operator or a detector (src/observe/bans.ts).
  GH_ACCESS_BANNED: { status: 403, title: 'Forbidden', threat: 'brute-force' },
  GH_OVERLOADED: { status: 503, title: 'Service unavailable', threat: 'brute-force' },
  GH_INTERNAL: { status: 500, title: 'Internal error', threat: null },
} as const satisfies Record<
  string,
  { status: number; title: string; threat: Threat | null; problemType?: string }
>;

export type ErrorCode = keyof typeof errorCatalogue;
