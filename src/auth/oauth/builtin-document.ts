import type { ApiConfig, TokenEndpointConfig } from '../../config/types.js';
import type { OpenApiDocument } from '../../contract/index.js';

/** Not a name an API in the configuration can have (those are [a-z0-9-]). */
export const BUILTIN_API_NAME = 'gatehouse.builtin';
export const TOKEN_OPERATION = 'gatehouseIssueToken';

export function builtinApiConfig(config: TokenEndpointConfig): ApiConfig {
  return {
    name: BUILTIN_API_NAME,
    openapi: '(built-in token endpoint)',
    basePath: config.basePath,
    upstream: {
      url: 'https://gatehouse.builtin.invalid',
      socketPath: null,
      tls: { dev: true },
      connectTimeoutMs: 1,
      responseTimeoutMs: 1000,
      maxResponseBytes: 65_536,
      connections: 1,
    },
  };
}

const tokenResponse = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
  },
};
const oauthError = { type: 'object', properties: { error: { type: 'string' } } };
/** Public EC keys only: were anything else ever in the set, response filtering would drop it. */
const jwkSet = {
  type: 'object',
  properties: {
    keys: {
      type: 'array',
      items: {
        type: 'object',
        properties: Object.fromEntries(
          ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'].map((name) => [name, { type: 'string' }]),
        ),
      },
    },
  },
};

export function builtinDocument(apiKeyHeader: string): OpenApiDocument {
  const json = (description: string, schema: object) => ({
    description,
    content: { 'application/json': { schema } },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse built-in endpoints', version: '1' },
    paths: {
      '/oauth/token': {
        post: {
          operationId: TOKEN_OPERATION,
          summary: 'OAuth2 client credentials grant (RFC 6749 §4.4)',
          security: [{ gatehouseApiKey: [] }, { gatehouseClientSecret: [] }],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  properties: {
                    grant_type: { type: 'string', maxLength: 64 },
                    scope: { type: 'string', maxLength: 4096 },
                    client_id: { type: 'string', maxLength: 256 },
                  },
                },
              },
            },
          },
          responses: {
            '200': json('an access token (RFC 6749 §5.1)', tokenResponse),
            '400': json('an error (RFC 6749 §5.2)', oauthError),
          },
        },
      },
      '/.well-known/jwks.json': {
        get: {
          operationId: 'gatehouseJwks',
          summary: "the gateway's public keys (RFC 7517 §5)",
          'x-gatehouse-public': true,
          responses: { '200': json('a JWK Set', jwkSet) },
        },
      },
    },
    components: {
      securitySchemes: {
        gatehouseApiKey: { type: 'apiKey', in: 'header', name: apiKeyHeader },
        gatehouseClientSecret: { type: 'http', scheme: 'basic' },
      },
    },
  };
}
