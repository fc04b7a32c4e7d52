/**
 * WWW-Authenticate values (RFC 9110 §11.6.1), built once per operation. A 401 names every
 * scheme the operation accepts, so a client can tell what to present; the reason a credential
 * was refused is never said beyond the RFC 6750 §3.1 error code.
 */
export interface Challenges {
  /** No credential presented: every accepted scheme. */
  readonly missing: Readonly<Record<string, string>>;
  /** A bearer token was presented and refused (RFC 6750 §3.1 invalid_token). */
  readonly invalidToken: Readonly<Record<string, string>>;
  /** An API key was presented and refused. */
  readonly invalidKey: Readonly<Record<string, string>>;
  /** Client credentials (Basic) were presented and refused (RFC 7617). */
  readonly invalidClient: Readonly<Record<string, string>>;
  /** A bearer token lacked a scope (RFC 6750 §3.1 insufficient_scope, sent with the 403). */
  readonly insufficientScope: Readonly<Record<string, string>>;
}

export interface AcceptedSchemes {
  readonly bearer: boolean;
  /** Header names of the API-key schemes, as the document spells them. */
  readonly apiKeyHeaders: readonly string[];
  readonly clientSecret: boolean;
}

export function buildChallenges(realm: string, accepted: AcceptedSchemes): Challenges {
  const bearer = `Bearer realm="${realm}"`;
  // No registered scheme for API keys: a generic one that names the header to use.
  const apiKey = accepted.apiKeyHeaders.map((header) => `ApiKey realm="${realm}", header="${header}"`);
  const basic = `Basic realm="${realm}", charset="UTF-8"`;
  const all = [...(accepted.bearer ? [bearer] : []), ...apiKey, ...(accepted.clientSecret ? [basic] : [])];
  const header = (values: readonly string[]): Readonly<Record<string, string>> =>
    Object.freeze(values.length === 0 ? {} : { 'www-authenticate': values.join(', ') });
  return Object.freeze({
    missing: header(all),
    invalidToken: header([`${bearer}, error="invalid_token"`]),
    invalidKey: header(apiKey.length > 0 ? apiKey : all),
    invalidClient: header([basic]),
    insufficientScope: header([`${bearer}, error="insufficient_scope"`]),
  });
}
