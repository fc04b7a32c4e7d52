import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { checkRequestTarget } from './request-target.js';

const MAX = 64;

function refusal(target: string, maxBytes = MAX): GatehouseError {
  try {
    checkRequestTarget(target, maxBytes);
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return err as GatehouseError;
  }
  throw new Error(`${JSON.stringify(target)} was accepted`);
}

describe('checkRequestTarget: refused with 400 GH_ROUTE_BAD_PATH', () => {
  it.each([
    // RFC 9112 §3.2: only origin-form
    ['absolute-form', 'http://example.com/a', 'not in origin-form'],
    ['authority-form', 'example.com:443', 'not in origin-form'],
    ['asterisk-form', '*', 'not in origin-form'],
    ['empty target', '', 'not in origin-form'],
    // empty segments
    ['leading "//"', '//a', 'empty path segment'],
    ['inner "//"', '/a//b', 'empty path segment'],
    ['"//" before the query', '/a//?x=1', 'empty path segment'],
    // dot segments, raw and encoded in any case (RFC 3986 §5.2.4)
    ['"." segment', '/a/./b', 'dot segment'],
    ['".." segment', '/a/../b', 'dot segment'],
    ['final ".."', '/a/..', 'dot segment'],
    ['final "." before a query', '/a/.?x', 'dot segment'],
    ['root ".."', '/..', 'dot segment'],
    ['"%2e%2e"', '/a/%2e%2e/b', 'dot segment'],
    ['"%2E%2E"', '/a/%2E%2E/b', 'dot segment'],
    ['".%2e"', '/a/.%2e/b', 'dot segment'],
    ['"%2E."', '/a/%2E./b', 'dot segment'],
    ['"%2e"', '/a/%2e', 'dot segment'],
    // what a servlet container resolves as ".." once it cuts the ";" parameters
    ['"..;"', '/a/..;/b', 'dot segment'],
    ['"..;jsessionid"', '/a/..;jsessionid=1/b', 'dot segment'],
    ['";" with nothing before', '/a/;x/b', 'empty before ";"'],
    // encoded separators and backslashes
    ['"%2f"', '/a%2fb', 'encoded "/" or "\\"'],
    ['"%2F"', '/a%2Fb', 'encoded "/" or "\\"'],
    ['"%5c"', '/a%5cb', 'encoded "/" or "\\"'],
    ['"%5C"', '/a%5C..%5Cb', 'encoded "/" or "\\"'],
    ['raw backslash', '/a\\b', 'raw "\\"'],
    // control characters, raw and encoded, path and query
    ['"%00"', '/a%00', 'encoded control character'],
    ['"%1f"', '/a%1fb', 'encoded control character'],
    ['"%7F"', '/a%7F', 'encoded control character'],
    ['"%0d%0a" in the query', '/a?x=%0d%0aSet-Cookie:1', 'encoded control character'],
    ['raw NUL', '/a\u0000', 'control character'],
    ['raw tab', '/a\tb', 'control character'],
    ['raw DEL', '/a\u007f', 'control character'],
    ['raw control in the query', '/a?x=\u0001', 'control character'],
    ['raw space in the query', '/a?x=a b', 'raw space'],
    // malformed percent-encoding (RFC 3986 §2.1)
    ['"%" at the end', '/a%', 'malformed percent-encoding'],
    ['one hex digit', '/a%2', 'malformed percent-encoding'],
    ['non-hex digits', '/a%zz', 'malformed percent-encoding'],
    ['half-hex', '/a%g0/b', 'malformed percent-encoding'],
    ['malformed in the query', '/a?x=%4', 'malformed percent-encoding'],
    ['a non-ASCII "hex digit"', '/a%\u00e9\u00e9', 'malformed percent-encoding'],
    // fragment (RFC 3986 §3.5: never sent by a client)
    ['fragment in the path', '/a#frag', 'fragment'],
    ['fragment in the query', '/a?x=1#frag', 'fragment'],
    // non-ASCII bytes (Node reads the request line as latin1)
    ['non-ASCII in the path', '/caf\u00e9', 'non-ASCII byte'],
    ['non-ASCII in the query', '/a?q=\u00ff', 'non-ASCII byte'],
    // other characters outside RFC 3986 §3.3 pchar
    ['raw "|"', '/a|b', 'not allowed in a path'],
    ['raw "{"', '/a{b}', 'not allowed in a path'],
    ['raw "["', '/a[0]', 'not allowed in a path'],
    ['raw space', '/a b', 'raw space'],
    ['raw quote', '/a"b', 'not allowed in a path'],
  ])('%s: %j', (_name, target, detail) => {
    const err = refusal(target);
    expect(err.code).toBe('GH_ROUTE_BAD_PATH');
    expect(err.status).toBe(400);
    expect(err.detail).toContain(detail);
  });
});

describe('checkRequestTarget: length', () => {
  it('refuses a target longer than the limit with 414 GH_TRANSPORT_URI_TOO_LONG', () => {
    const err = refusal('/' + 'a'.repeat(MAX));
    expect(err.code).toBe('GH_TRANSPORT_URI_TOO_LONG');
    expect(err.status).toBe(414);
  });

  it('counts the query in the length', () => {
    const err = refusal('/a?' + 'q'.repeat(MAX));
    expect(err.status).toBe(414);
  });

  it('accepts a target of exactly the limit', () => {
    const target = '/' + 'a'.repeat(MAX - 1);
    expect(checkRequestTarget(target, MAX)).toBe(MAX);
  });
});

describe('checkRequestTarget: accepted, returning where the path ends', () => {
  it.each([
    ['/', 1],
    ['/a/b', 4],
    ['/a/b/', 5],
    ['/a?x=1', 2],
    ['/a?', 2],
    ['/?x', 1],
    ['/a/...', 6],
    ['/a/.b/..c/d.', 12],
    ['/a/%2e%2ex', 10],
    ['/a;v=1/b', 8],
    ['/a/b..;', 7],
    ['/%41%c3%A9', 10],
    ["/a:b@c!$&'()*+,;=~-._", 21],
    // RFC 3986 §3.4: "/" and "?" are data in a query; encoded slashes there are ordinary
    ['/a?next=%2Fhome&ids[]=1&q=a/b?c&f={"x":1}|\\', 2],
  ])('%j', (target, pathEnd) => {
    expect(checkRequestTarget(target, MAX)).toBe(pathEnd);
  });
});
