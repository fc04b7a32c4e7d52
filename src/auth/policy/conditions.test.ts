import { describe, expect, it } from 'vitest';
import type { RouteMatch } from '../../contract/index.js';
import type { Principal } from '../principal.js';
import { compileRequirements, unmetRequirement, unmetResponseCondition } from './conditions.js';

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

  it('keeps conditions on the answer apart, checked only on the answer', () => {
    const requirements = compile({
      'response.owner': 'principal.sub',
      'response.meta.tenant': 'principal.claims.tenant',
    });
    expect(requirements.conditions).toEqual([]);
    expect(unmetRequirement(requirements, principal, route({}), {})).toBeNull();
    const conditions = requirements.responseConditions;
    expect(
      unmetResponseCondition(conditions, principal, { owner: 'alice', meta: { tenant: 't-1' } }),
    ).toBeNull();
    expect(unmetResponseCondition(conditions, principal, { owner: 'bob', meta: { tenant: 't-1' } })).toBe(
      'authorize.response: response.owner == principal.sub does not hold',
    );
  });

  it.each([
    ['another owner', { owner: 'bob' }],
    ['no owner', { title: 'x' }],
    ['an owner that is no string', { owner: { name: 'alice' } }],
    ['a list', [{ owner: 'alice' }]],
    ['no JSON', undefined],
    ['an inherited property', Object.create({ owner: 'alice' }) as object],
    ['a number past 2^53, rounded on parsing', JSON.parse('{"owner": 1234567890123456789}') as object],
  ])('fails closed on an answer with %s', (_what, response) => {
    const { responseConditions } = compile({ 'response.owner': 'principal.sub' });
    const rounded = { ...principal, subject: '1234567890123456800' };
    expect(unmetResponseCondition(responseConditions, principal, response)).toMatch(/^authorize\.response/);
    expect(unmetResponseCondition(responseConditions, rounded, response)).toMatch(/^authorize\.response/);
  });

  it('takes a safe integer owner as its decimal text', () => {
    const { responseConditions } = compile({ 'response.owner': 'principal.sub' });
    const numbered = { ...principal, subject: '42' };
    expect(unmetResponseCondition(responseConditions, numbered, { owner: 42 })).toBeNull();
  });

  it('refuses a response condition it cannot read', () => {
    expect(() => compile({ 'response.': 'principal.sub' })).toThrow(/is not roles, path/);
    expect(() => compile({ 'response.owner': 'owner' })).toThrow(/must equal principal\.sub/);
  });
});
