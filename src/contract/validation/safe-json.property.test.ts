import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLEAN, CLEAN_ASCII, requestBodyVerdict, TO_SCRIPT } from './json-wasm.js';

const requestBodyClean = (body: Buffer, maxDepth: number, maxKeys: number): boolean =>
  requestBodyVerdict(body, maxDepth, maxKeys) !== TO_SCRIPT;
import { JsonRefusal, parseBoundedJson, parseBoundedJsonInScript, type JsonBounds } from './safe-json.js';

/*
 * The WebAssembly half of the request body check may only pass what the script scanner passes:
 * whatever it calls clean, the script accepts, with the same value. And it must pass the bodies
 * APIs usually get, or it would be no use.
 */

const bounds: JsonBounds = { maxDepth: 4, maxKeys: 12 };

function verdict(body: Buffer, b: JsonBounds = bounds): { value: unknown } | { refused: string } {
  try {
    return { value: parseBoundedJsonInScript(body, b) };
  } catch (err) {
    if (err instanceof JsonRefusal) return { refused: err.rule };
    throw err;
  }
}

const KEYS = [
  'id',
  'amount',
  'a',
  'ab',
  '',
  '__proto__',
  'constructor',
  'prototype',
  'proto',
  'é',
  'x"y',
  'a\\b',
];
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -0, 1e21, 1234567890123456, 0.1, 123456789012345, true, false, null),
      fc.string({ maxLength: 8, unit: 'binary' }),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 4, unit: 'binary' })),
      tie('value'),
      {
        maxKeys: 5,
      },
    ),
  ),
})).value;

/** JSON text of a value, with its keys repeated now and then and whitespace here and there. */
function written(v: unknown, repeat: boolean, pad: string): string {
  if (Array.isArray(v)) return `[${pad}${v.map((x) => written(x, repeat, pad)).join(`,${pad}`)}]`;
  if (v !== null && typeof v === 'object') {
    const members = Object.entries(v).map(
      ([k, x]) => `${JSON.stringify(k)}${pad}:${written(x, repeat, pad)}`,
    );
    if (repeat && members.length > 0) members.push(members[0]!);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(v);
}

describe('requestBodyClean (WebAssembly) against the script scanner', () => {
  it('calls clean only what the script accepts, and the value is the same', () => {
    const mutation = fc.tuple(
      fc.nat(),
      fc.constantFrom(
        ...'{}[],:"\\0123456789.eE+- \tutnfl'.split('').map((c) => c.charCodeAt(0)),
        0x00,
        0xc3,
      ),
    );
    fc.assert(
      fc.property(
        value,
        fc.boolean(),
        fc.constantFrom('', ' ', '\n\t'),
        fc.option(mutation),
        (v, repeat, pad, edit) => {
          let body = Buffer.from(written(v, repeat, pad));
          if (edit !== null) {
            const at = edit[0] % (body.length + 1);
            body = Buffer.concat([body.subarray(0, at), Buffer.of(edit[1]), body.subarray(at)]);
          }
          const said = requestBodyVerdict(body, bounds.maxDepth, bounds.maxKeys);
          // All ASCII is UTF-8; otherwise UTF-8 is checked before the script scanner runs.
          if (said === CLEAN_ASCII) expect(body.every((b) => b < 0x80)).toBe(true);
          if (!isUtf8(body) || said === TO_SCRIPT) return;
          const expected = verdict(body);
          expect(expected).not.toHaveProperty('refused');
          expect(parseBoundedJson(body, bounds)).toEqual((expected as { value: unknown }).value);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('calls clean the bodies APIs usually get', () => {
    const plainKey = fc.constantFrom(
      'id',
      'toAccountId',
      'amount',
      'currency',
      'memo',
      'items',
      'name',
      'qty',
    );
    const plainValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(
          fc.integer({ min: -1e9, max: 1e9 }),
          fc.constantFrom(0.5, -12.25, true, false, null),
          fc.string({ maxLength: 12 }),
        ),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(plainKey, tie('value'), { maxKeys: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.dictionary(plainKey, plainValue, { maxKeys: 4 }), (v) => {
        const body = Buffer.from(JSON.stringify(v));
        // The generator nests up to about ten levels now and then: a depth bound it never meets.
        expect(requestBodyClean(body, 32, 1000)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['{"a":1,"a":2}', 'a key repeated'],
    ['{"a":{"b":1},"b":{"a":1,"a":1}}', 'a key repeated in a nested object'],
    ['{"__proto__":{}}', '__proto__'],
    ['{"constructor":1}', 'constructor'],
    ['{"prototype":1}', 'prototype'],
    ['{"a\\u0062":1}', 'an escaped key'],
    ['["\\ud800"]', 'a \\u escape'],
    ['1e3', 'an exponent'],
    ['1234567890123456', 'sixteen digits'],
    ['[[[[[1]]]]]', 'five levels (bound 4)'],
    ['[[[[{}]]]]', 'an empty object at the fifth level'],
    [
      JSON.stringify(Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`k${i}`, i]))),
      '13 keys (bound 12)',
    ],
    [
      JSON.stringify(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]))),
      '17 keys in one object',
    ],
    ['{"a":1}x', 'bytes after the value'],
    ['', 'nothing'],
  ])('leaves %s to the script (%s)', (text, why) => {
    const maxKeys = why.startsWith('17') ? 20 : bounds.maxKeys;
    expect(requestBodyClean(Buffer.from(text), bounds.maxDepth, maxKeys)).toBe(false);
  });

  it('tells an all-ASCII body (read as Latin-1) from one with other UTF-8 in its strings', () => {
    expect(requestBodyVerdict(Buffer.from('{"memo":"rent"}'), 4, 12)).toBe(CLEAN_ASCII);
    expect(requestBodyVerdict(Buffer.from('{"memo":"loyer d\\u00fb"}'), 4, 12)).toBe(TO_SCRIPT);
    expect(requestBodyVerdict(Buffer.from('{"memo":"loyer dû"}'), 4, 12)).toBe(CLEAN);
    expect(requestBodyVerdict(Buffer.from('{"mémo":"x"}'), 4, 12)).toBe(CLEAN);
    expect(parseBoundedJson(Buffer.from('{"mémo":"dû"}'), bounds)).toEqual({ mémo: 'dû' });
  });

  it('passes bounds it is given: four levels, twelve keys', () => {
    expect(requestBodyClean(Buffer.from('[[[{"a":1}]]]'), 4, 12)).toBe(true);
    expect(
      requestBodyClean(
        Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i])))),
        4,
        12,
      ),
    ).toBe(true);
  });
});

/** A decimal literal as an exact fraction: its digits as a big integer, and the power of ten. */
function exactDecimal(literal: string): { digits: bigint; exponent: number } {
  const form = /^(-?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  const digits = BigInt((form[2] ?? '') + (form[3] ?? '') || '0');
  return {
    digits: form[1] === '-' ? -digits : digits,
    exponent: Number(form[4] ?? 0) - (form[3] ?? '').length,
  };
}

/**
 * Whether a literal writes the same number as the double's shortest decimal (what any parser of
 * the upstream reads back): both scaled to one power of ten, compared as big integers.
 */
function doubleIsLiteral(literal: string, value: number): boolean {
  const a = exactDecimal(literal);
  const b = exactDecimal(String(value).replace('e+', 'e'));
  const low = Math.min(a.exponent, b.exponent);
  return a.digits * 10n ** BigInt(a.exponent - low) === b.digits * 10n ** BigInt(b.exponent - low);
}

describe('numbers a double would round (issue: 0.99999999999999999 moved money as 1)', () => {
  const literal = fc
    .tuple(
      fc.boolean(),
      fc.stringMatching(/^[1-9][0-9]{0,19}$/),
      fc.stringMatching(/^[0-9]{0,20}$/),
      fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }),
    )
    .map(
      ([negative, integer, fraction, exponent]) =>
        `${negative ? '-' : ''}${integer}${fraction === '' ? '' : `.${fraction}`}${exponent === undefined ? '' : `e${exponent}`}`,
    );

  it('accepts a number only when the double it parses to is exactly the number it writes, or one of up to 15 digits', () => {
    fc.assert(
      fc.property(literal, (text) => {
        const outcome = verdict(Buffer.from(`{"amount":${text}}`));
        if ('refused' in outcome) return;
        const value = (outcome.value as { amount: number }).amount;
        const significant = text
          .replace(/^-/, '')
          .replace(/[eE].*$/, '')
          .replace('.', '')
          .replace(/^0+/, '')
          .replace(/0+$/, '').length;
        expect(significant <= 15 || doubleIsLiteral(text, value)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses every literal of 16 to 17 significant digits that a double rounds', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[1-9][0-9]{15,16}$/),
        fc.integer({ min: 0, max: 15 }),
        (digits, point) => {
          const text = `${digits.slice(0, digits.length - point)}${point === 0 ? '' : `.${digits.slice(digits.length - point)}`}`;
          const outcome = verdict(Buffer.from(text));
          const exact = doubleIsLiteral(text, Number(text));
          // Integers beyond ±2^53 are refused even when exact: the next one up would not be.
          const unsafeInteger = point === 0 && Number(text) > Number.MAX_SAFE_INTEGER;
          if (exact && !unsafeInteger) expect(outcome).toEqual({ value: Number(text) });
          else expect(outcome).toEqual({ refused: expect.stringMatching(/significant digits/) as unknown });
        },
      ),
      { numRuns: 3000 },
    );
  });
});
