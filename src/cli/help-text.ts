/**
 * The help of `gatehouse routes`, kept apart from the command so that `gatehouse --help` reads
 * these lines without loading the contract compiler (the command itself is imported on use).
 */
export const ROUTES_HELP = `
Table cells (one line per operation):
  SECURITY     alternatives, any one is enough: scheme[scope,scope] | scheme; "public" for
               x-gatehouse-public; "DENIED (no security)" is default deny
  ACCESS       x-gatehouse-require: roles (any one of them), conditions on the request, and
               response.* conditions on the upstream's answer
  RATE LIMITS  policy limit/window (rate) or limit/period (quota); shadow: counted, never refused
  PRE-AUTH     per-address rules before authentication; login[field] (failed when ...):
               x-gatehouse-login, its username field and the tests that make a 2xx a failure
  REQUEST      validated parameters (? = optional); body media types, schema: validated against
               its schema, json: parsed within bounds only, type: content type only; no body:
               a request with one is refused
  RESPONSE     response contract mode (strip or reject), then the declared statuses by what
               their bodies are held to: schema (undeclared fields stripped or refused), no
               schema (media type only), no content (declares none: a body passes unchecked)
  FORWARD      credential headers passed on to the upstream once verified (-: stripped)
The table is followed by the warnings check-config gives, as "warning: ..." lines.

--json prints only a JSON array on stdout (warnings and errors go to stderr), one object per
operation with these keys:
  api, method, path (basePath + template), documentPath, operationId (or null)
  security     { mode: public|credential|deny, summary, alternatives: [{ scheme, kind:
               api-key|bearer|client-secret, header, scopes }], denyReason (or null) }
  roles        [role] (any one) or null
  conditions   ["path.x == principal.sub", ...];  responseConditions: ["response.owner == ...", ...]
  forwardCredentials  [header], [] when credentials are stripped
  rateLimits   [{ name, kind: rate|quota, limit, windowMs, period, burst, maxDelayMs, enforced }]
  preAuth      { rules: [name], countsFailedAuth, login: { usernameField, failedWhen: [test] }
               or null }
  validation   { parameters: [{ in, name, required }], unknownQuery: refused|allowed,
               body: { required, mediaTypes: [{ type, check: schema|json|type }] } or null,
               maxBodyBytes }
  response     { mode: strip|reject, filtered, noStore, statuses: [{ status, content:
               [{ type, schema }] }] }
Exit code 1, and no table, when the configuration or a document has a problem.`;

export const INIT_HELP = `
Writes DIR/gatehouse.yaml (one listener on https://127.0.0.1:8443 with a development
certificate, the API, access log on, commented issuer and rate-limit examples) and
DIR/<name>.overlay.yaml (OpenAPI Overlay 1.0: one action per operation, each with update: {},
a valid no-op, and a comment saying what the gateway does with the operation today). Paths in
them are relative to DIR. Until the overlay gives an operation security or marks it
x-gatehouse-public, the gateway refuses it (default deny). The written configuration is checked
as check-config would; exit code 1 when it has a problem. Existing files are kept unless --force.`;

export const CHECK_CONFIG_HELP = `
Besides the file and the OpenAPI documents, check-config connects to every store the
configuration names (keys.store.postgres.url, keys.sync.redisUrl, redis.url), all at once and for
at most 2 s each, and reports a store that does not answer at its key, like any other problem:
  keys.store.postgres.url (line 9): cannot connect to 127.0.0.1:5999 (ECONNREFUSED) — check host
  and port, and that PostgreSQL runs
It only logs in and sends one round trip: nothing is created or written.

--offline skips these connections, e.g. in a CI job that checks files without the services.`;
