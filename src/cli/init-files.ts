import { stringify } from 'yaml';

/** What `gatehouse init` learned about the document and the options, for the two files. */
export interface InitPlan {
  readonly name: string;
  readonly title: string;
  readonly version: string;
  /** The document's path relative to the output folder, e.g. `../specs/openapi.yaml`. */
  readonly openapiPath: string;
  /** The overlay's file name, in the output folder. */
  readonly overlayFile: string;
  readonly configFile: string;
  readonly upstreamUrl: string;
  readonly plainUpstream: boolean;
  readonly warnings: readonly string[];
  /** `bearerAuth (http bearer)`: the schemes the document declares, for the overlay's comments. */
  readonly schemes: readonly string[];
  readonly operations: readonly InitOperation[];
}

export interface InitOperation {
  readonly method: string;
  readonly path: string;
  readonly operationId: string | null;
  /** What the gateway does with it as the document stands, e.g. `refused: default deny …`. */
  readonly today: string;
  /** The overlay target (RFC 9535 JSONPath), or null when the document's path item is a $ref. */
  readonly target: string | null;
}

/** `$.paths['/users/{username}'].get` (RFC 9535 §2.3.1.1: ' and \ escaped in a name). */
export function operationTarget(documentPath: string, method: string): string {
  const escaped = documentPath.replace(/[\\']|\p{Cc}/gu, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `$.paths['${escaped}'].${method.toLowerCase()}`;
}

export function configText(plan: InitPlan): string {
  const url = scalar(plan.upstreamUrl);
  const upstreamTls = plan.plainUpstream
    ? '      # plain http:// to a service on this host: no tls settings here'
    : "      # tls: { ca: ./upstream-ca.crt }   # the CA of the service's certificate (default: the system roots); add cert and key for mTLS";
  const secretVariable = `${plan.name.toUpperCase().replaceAll('-', '_')}_JWT_SECRET`;
  return `${comment(`Gatehouse configuration for ${plan.title} ${plan.version}, written by gatehouse init.`)}
${plan.warnings.map((warning) => comment(`warning: ${warning}`)).join('\n')}${plan.warnings.length > 0 ? '\n#' : '#'}
# Check it:            gatehouse check-config --config ${plan.configFile}
# See what it enforces: gatehouse routes --config ${plan.configFile}
# Run it:              gatehouse start --config ${plan.configFile}
# Paths are relative to this file's folder.

# Generated state (development CA and certificates, the API key store).
stateDir: ./.gatehouse
listeners:
  # HTTPS only, with a certificate of the development CA in stateDir; in production write
  # tls: { cert: ./server.crt, key: file:./server.key }
  - name: public
    host: 127.0.0.1
    port: 8443
    tls: dev
apis:
  - name: ${plan.name}
    # The service's document, left as it is: the operator's policy (security, public marks,
    # scopes, limits) lives in the overlay, applied before Gatehouse compiles the document.
    openapi: ${scalar(plan.openapiPath)}
    overlays: [${scalar(`./${plan.overlayFile}`)}]
    # basePath: /${plan.name}   # serve the API under a prefix (default: the root)
    upstream:
      url: ${url}
${upstreamTls}
    # responseContract: reject   # an answer with undeclared fields becomes a 502 (default strip: they are removed)
log:
  level: info
  access: true

# Bearer tokens are accepted from the issuers listed here. For a service that signs its own
# tokens with a shared secret, an HMAC issuer, its secret (32 bytes or more) from the environment:
# auth:
#   issuers:
#     - { issuer: ${plan.name}, algorithms: [HS256], secret: env:${secretVariable}, allowMissingClaims: [iss, aud] }
# Prefer an asymmetric issuer where the tokens come from an identity provider:
#     - { issuer: https://login.example.com, audience: ${plan.name}, algorithms: [ES256], jwksUrl: https://login.example.com/.well-known/jwks.json }

# Rate limits: policies every operation gets (apply), and policies an operation names with
# x-gatehouse-rate-limit in the overlay:
# rateLimits:
#   apply: [per-client]
#   policies:
#     per-client: { key: [principal], limit: 600, window: 1m, burst: 100 }
#     per-address: { key: [address], limit: 10, window: 1m }
`;
}

export function overlayText(plan: InitPlan): string {
  const actions = plan.operations.map(actionText);
  if (!plan.operations.some((operation) => operation.target !== null)) {
    // Overlay 1.0 needs at least one action: a no-op on info keeps the file valid.
    actions.push('  # A placeholder: Overlay 1.0 needs one action.\n  - target: $.info\n    update: {}');
  }
  const schemes =
    plan.schemes.length === 0
      ? `# The document declares no security schemes: declare one with an action such as
#   - target: $
#     update:
#       components:
#         securitySchemes:
#           bearer: { type: http, scheme: bearer, bearerFormat: JWT }    # tokens of an issuer in auth.issuers
#           apiKey: { type: apiKey, in: header, name: X-Api-Key }       # keys made with gatehouse keys create`
      : comment(`Security schemes the document declares: ${plan.schemes.join(', ')}.`);
  return `${comment(`Gatehouse policy for ${plan.title} ${plan.version} (${plan.openapiPath}), an OpenAPI Overlay 1.0 file applied to the document before Gatehouse compiles it; the document stays untouched. Written by gatehouse init.`)}
#
# One action per operation, each with update: {}, which is valid and changes nothing. Give each
# operation its policy in its update, for example:
#   update: { security: [{ bearer: [${plan.name}:read] }] }        a credential of a scheme, with scopes
#   update: { x-gatehouse-public: true }                    anyone, without a credential
#   update: { x-gatehouse-scopes: [${plan.name}:write] }           scopes an API key or plain bearer token needs
#   update: { x-gatehouse-require: { path.username: principal.sub } }   the caller's own only
#   update: { x-gatehouse-rate-limit: per-client }          a policy of rateLimits.policies
#   update: { x-gatehouse-login: { usernameField: username } }   brute-force protection of a login
# Until then an operation without security that is not public is refused (default deny).
# See the result: gatehouse routes --config ${plan.configFile}
#
${schemes}
overlay: 1.0.0
info:
  title: ${scalar(`Gatehouse policy for ${plan.title}`)}
  version: 1.0.0
actions:
${actions.join('\n')}
`;
}

function actionText(operation: InitOperation): string {
  const id = operation.operationId ?? 'no operationId';
  const head = `  ${comment(`${operation.method} ${operation.path} (${id}): ${operation.today}`, '  ')}`;
  if (operation.target === null) {
    const note = `the document's path item is a $ref: give this operation its policy in an action on the object the $ref points to`;
    return `${head}\n  ${comment(note, '  ')}`;
  }
  return `${head}\n  - target: ${scalar(operation.target)}\n    update: {}`;
}

/** One YAML scalar, quoted only where YAML needs it. */
function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

/** `# text`, wrapped near 100 columns; control characters (a newline in a title) become spaces. */
function comment(text: string, indent = ''): string {
  const words = text.replace(/\p{Cc}|[\u2028\u2029]/gu, ' ').split(/ +/);
  const lines: string[] = [];
  let line = '#';
  for (const word of words) {
    if (line !== '#' && line.length + word.length + indent.length >= 100) {
      lines.push(line);
      line = '#  ';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}
