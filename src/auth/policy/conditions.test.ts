import { describe, expect, it } from 'vitest';
import type { RouteMatch } from '../../contract/index.js';
import type { Principal } from '../principal.js';
import { compileRequirements, unmetRequirement } from './conditions.js';

const principal: Principal = {
  subject: 'alice',
  consumer: 'app',
  scopes: new Set(),
  roles: ['customer'],
  credential: { kind: 'jwt', id: 't', issuer: 'i' },
  claims: { tenant: 't-1', level: 3, nested: { a: 1 } },
  expiresAt: null,
};
const route = (params: Record<string, string>, query = ''): RouteMatch => ({
  operation: null as never,
  params,
  path: '/',
  query,
});
const compile = (value: unknown) => compileRequirements(value, ['id'], '/doc.yaml', '/paths/x/get')!;

describe('x-gatehouse-require', () => {
  it('holds when every condition and one role hold', () => {
    const requirements = compile({
      roles: ['auditor', 'customer'],
      'path.id': 'principal.sub',
      'header.x-tenant': 'principal.claims.tenant',
      'query.level': 'principal.claims.level',
      'query.app': 'principal.consumer',
    });
    expect(
      unmetRequirement(requirements, principal, route({ id: 'alice' }, 'level=3&app=app'), {
        'x-tenant': 't-1',
      }),
    ).toBeNull();
  });

  it.each([
    [{ roles: ['auditor'] }, route({ id: 'alice' }), {}, /^authorize\.role/],
    [{ 'path.id': 'principal.sub' }, route({ id: 'bob' }), {}, /path\.id == principal\.sub/],
    [{ 'header.x-tenant': 'principal.claims.tenant' }, route({}), {}, /header\.x-tenant/],
    [{ 'header.x-tenant': 'principal.claims.tenant' }, route({}), { 'x-tenant': 't-2' }, /header\.x-tenant/],
    [{ 'query.level': 'principal.claims.level' }, route({}, 'level=3&level=3'), {}, /query\.level/],
    [{ 'query.level': 'principal.claims.missing' }, route({}, 'level=3'), {}, /query\.level/],
    [{ 'query.n': 'principal.claims.nested' }, route({}, 'n=[object Object]'), {}, /query\.n/],
  ])('%j fails for the request', (value, request, headers, reason) => {
    expect(unmetRequirement(compile(value), principal, request, headers)).toMatch(reason);
  });

  it('is absent when the operation has none', () => {
    expect(compileRequirements(undefined, [], '/doc.yaml', '/p')).toBeNull();
  });
});
