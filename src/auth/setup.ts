import type { GatehouseConfig } from '../config/types.js';
import type { CompiledApi, Operation } from '../contract/index.js';
import type { ApiKeyVerifier } from './keys/index.js';
import { IdentityAssertions } from './assertion/identity-assertions.js';
import {
  createIssuerVerifier,
  createLocalIssuerVerifier,
  type IssuerVerifier,
} from './jwt/issuer-verifier.js';
import { JwtVerifier } from './jwt/jwt-verifier.js';
import { MINTING_KEY_CLAIM } from './jwt/minting-key.js';
import { BUILTIN_API_NAME, createBuiltinApi, type BuiltinApi } from './oauth/builtin-api.js';
import { ClientSecrets } from './oauth/client-secrets.js';
import { ACCESS_TOKEN_TYPE, TokenIssuer } from './oauth/token-issuer.js';
import { compileAuthPolicies, type AuthPolicy } from './policy/auth-policy.js';
import {
  loadSigningKeyRing,
  rotationTimingOf,
  type SigningKeyLog,
  type SigningKeyRing,
} from './signing/signing-keys.js';

/**
 * What auth uses of the key verifier (src/auth/keys): `verify` (the authenticate stage) for API
 * keys, `stateOf` (the JWT verifier) for the access tokens minted from one.
 */
export type ApiKeyCheck = Pick<ApiKeyVerifier, 'verify' | 'stateOf'>;

/** Everything the authenticate and authorize stages use, built once per configuration. */
export interface AuthRuntime {
  readonly policies: ReadonlyMap<Operation, AuthPolicy>;
  readonly jwt: JwtVerifier;
  /** null when the gateway runs without the key store (unit tests): API keys are then refused. */
  readonly apiKeys: ApiKeyCheck | null;
  readonly clientSecrets: ClientSecrets;
  /** null when `auth.identity.enabled` is false. */
  readonly assertions: IdentityAssertions | null;
  /** The token endpoint and JWKS, when `auth.tokenEndpoint.enabled`. */
  readonly builtin: BuiltinApi | null;
  readonly signingKeys: SigningKeyRing;
  /** For check-config: operations refused by default, schemes never accepted. */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

/**
 * Builds the auth part of a runtime: signing keys (generated in stateDir on first start),
 * issuers (JWKS fetched in the background), the built-in token endpoint, and one compiled policy
 * per operation of `apis`. Throws ContractError when a document asks for what cannot be enforced.
 */
export async function buildAuth(
  config: GatehouseConfig,
  apis: readonly CompiledApi[],
  apiKeys: ApiKeyCheck | null,
  log: SigningKeyLog | null = null,
): Promise<AuthRuntime> {
  const auth = config.auth;
  const signingKeys = await loadSigningKeyRing(auth.signingKeys, config.stateDir, rotationTimingOf(auth), {
    refreshEveryMs: SIGNING_KEY_REFRESH_MS,
    log,
  });
  const builtin = auth.tokenEndpoint.enabled
    ? createBuiltinApi(
        auth.tokenEndpoint,
        signingKeys,
        new TokenIssuer(auth.tokenEndpoint, auth.issuer, signingKeys),
      )
    : null;
  const policies = new Map<Operation, AuthPolicy>();
  const warnings: string[] = [];
  const identityHeader = auth.identity.header.toLowerCase();
  for (const api of builtin === null ? apis : [...apis, builtin.api]) {
    const options = { realm: auth.realm, identityHeader, clientSecrets: api.name === BUILTIN_API_NAME };
    const compiled = compileAuthPolicies(api, options);
    for (const [operation, policy] of compiled.policies) policies.set(operation, policy);
    warnings.push(...compiled.warnings);
  }
  // Issuers last: they start fetching JWKS, and nothing after them can fail.
  const issuers: IssuerVerifier[] = auth.issuers.map(createIssuerVerifier);
  if (builtin !== null) {
    // The gateway accepts the tokens it issues: same keys, its own audience, typ at+jwt only
    // (so an identity assertion sent back to the gateway is not taken for an access token).
    // Its tokens name the API key they were minted from: revoking the key refuses them too.
    issuers.push(
      createLocalIssuerVerifier(
        auth.issuer,
        auth.tokenEndpoint.audience,
        signingKeys.verificationKeys,
        ACCESS_TOKEN_TYPE,
        MINTING_KEY_CLAIM,
      ),
    );
  }
  const jwt = new JwtVerifier(issuers, {
    maxTokenBytes: auth.maxTokenBytes,
    cacheSize: auth.verifiedTokenCacheSize,
    mintingKeys: apiKeys,
  });
  return {
    policies,
    jwt,
    apiKeys,
    clientSecrets: new ClientSecrets(auth.tokenEndpoint.clients),
    assertions: auth.identity.enabled
      ? new IdentityAssertions(auth.identity, auth.issuer, signingKeys)
      : null,
    builtin,
    signingKeys,
    warnings,
    close: async () => {
      signingKeys.close();
      await jwt.close();
    },
  };
}

/** How often a gateway re-reads the signing-key folder it may share with other gateways. */
const SIGNING_KEY_REFRESH_MS = 1000;

/**
 * What `gatehouse check-config` says about one API's security: operations refused by default,
 * schemes never accepted. Throws ContractError for what the stages could not enforce.
 */
export function authWarnings(api: CompiledApi, config: GatehouseConfig): readonly string[] {
  const options = {
    realm: config.auth.realm,
    identityHeader: config.auth.identity.header.toLowerCase(),
    clientSecrets: false,
  };
  return compileAuthPolicies(api, options).warnings.map((warning) => `warning: apis.${warning}`);
}
