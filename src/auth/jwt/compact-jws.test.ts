import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactJwsProblem } from './compact-jws.js';

const segment = fc
  .uint8Array({ minLength: 1, maxLength: 96 })
  .map((bytes) => Buffer.from(bytes).toString('base64url'));
const token = fc.tuple(segment, segment, segment).map((parts) => parts.join('.'));

describe('compactJwsProblem', () => {
  it('accepts every canonical base64url encoding of three segments', () => {
    fc.assert(fc.property(token, (t) => compactJwsProblem(t, 10_000) === null));
  });

  it('refuses a segment whose unused trailing bits are set, though it decodes to the same bytes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }).filter((b) => b.length % 3 !== 0),
        fc.integer({ min: 1, max: 15 }),
        (bytes, bits) => {
          const canonical = Buffer.from(bytes).toString('base64url');
          const unused = bytes.length % 3 === 1 ? 0x0f : 0x03;
          const last = alphabet.indexOf(canonical.at(-1)!) | (bits & unused);
          if ((bits & unused) === 0) return true;
          const lenient = canonical.slice(0, -1) + alphabet[last]!;
          expect(Buffer.from(lenient, 'base64url')).toEqual(Buffer.from(bytes)); // what a lenient decoder sees
          return /non-zero trailing bits/.test(
            compactJwsProblem(`${lenient}.e30.${canonical}`, 10_000) ?? '',
          );
        },
      ),
    );
  });

  it.each([
    ['e30.e30', /three dot-separated segments/],
    ['a.b.c.d.e', /three dot-separated segments/],
    ['eyJhbGciOiJub25lIn0.e30.', /empty signature segment/],
    ['.e30.c2ln', /empty header segment/],
    ['eyJ=.e30.c2ln', /header segment is not strict base64url/],
    ['e30.e3 0.c2ln', /payload segment is not strict base64url/],
    ['e30.e30.c2l+', /signature segment is not strict base64url/],
    ['e30.e30.c2l/', /signature segment is not strict base64url/],
    ['e30.e30.c2lnb', /impossible base64url length/],
    ['eyJ.e30.c2ln', /header segment is not canonical base64url/],
  ])('refuses %j', (input, problem) => {
    expect(compactJwsProblem(input, 10_000)).toMatch(problem);
  });

  it('refuses a token over the bound before looking at it', () => {
    expect(compactJwsProblem('a'.repeat(101), 100)).toBe('token of 101 bytes is over the 100-byte bound');
  });
});
