/** Test support for the authentication tests (not imported by the gateway). */
import type { Principal } from './principal.js';

/** Alice, a customer of the mobile app, authenticated by an API key: the identity tests' caller. */
export const examplePrincipal = (expiresAt: number | null = null): Principal =>
  Object.freeze({
    subject: 'alice',
    consumer: 'mobile-app',
    scopes: new Set(['accounts:read', 'transfers:write']),
    roles: ['customer'],
    credential: { kind: 'api-key' as const, id: '0123456789abcdef', issuer: null },
    claims: {},
    expiresAt,
  });
