import { describe, expect, it } from 'vitest';
import {
  ANY_KIND,
  applyResponseFilter,
  compileResponseFilter,
  ShapeBreach,
  type ResponseFilter,
} from './response-filter.js';
import { filterResponseBytes, MAX_RESPONSE_DEPTH } from './response-filter-bytes.js';

function filterOf(schema: unknown): ResponseFilter {
  const filter = compileResponseFilter(schema);
  if (filter === null) throw new Error('schema compiles to no filter');
  return filter;
}

/** What the scanner answers, as text (or why the shape is broken), with what it recorded. */
function scan(filter: ResponseFilter | null, text: string | Buffer): { out: string; removed: string[] } {
  const raw = typeof text === 'string' ? Buffer.from(text) : text;
  const removed: string[] = [];
  const out = filterResponseBytes(filter, raw, removed);
  if (out === 'invalid') return { out, removed };
  return { out: out instanceof ShapeBreach ? `breach: ${out.reason}` : out.toString('utf8'), removed };
}

/** What JSON.parse and applyResponseFilter (the reference) record for the same text. */
function referenceRemovals(filter: ResponseFilter, text: string): string[] {
  const removed: string[] = [];
  applyResponseFilter(filter, JSON.parse(text), removed);
  return removed;
}

const account = filterOf({
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    owner: { type: 'object', properties: { name: { type: 'string' } } },
    items: { type: 'array', items: { type: 'object', properties: { sku: {}, qty: {} } } },
    raw: {},
  },
});

describe('filterResponseBytes: what it cuts', () => {
  it('hands back the very same Buffer when nothing is undeclared', () => {
    const raw = Buffer.from('{"id":"1","owner":{"name":"a"},"items":[{"sku":"x","qty":1}],"raw":{"any":1}}');
    expect(filterResponseBytes(account, raw, [])).toBe(raw);
    expect(filterResponseBytes(null, raw, null)).toBe(raw);
  });

  it.each([
    ['the first member', '{"secret":1,"id":"1","name":"n"}', '{"id":"1","name":"n"}'],
    ['a middle member', '{"id":"1","secret":1,"name":"n"}', '{"id":"1","name":"n"}'],
    ['the last member', '{"id":"1","name":"n","secret":1}', '{"id":"1","name":"n"}'],
    ['the only member', '{"secret":{"deep":[1,{"x":2}]}}', '{}'],
    ['every member', '{"a":1,"b":2,"c":3}', '{}'],
    ['a near miss of a declared name', '{"namX":1,"nam":2,"names":3,"name":"n"}', '{"name":"n"}'],
    ['runs of members', '{"a":1,"b":2,"id":"1","c":3,"d":4,"name":"n","e":5}', '{"id":"1","name":"n"}'],
    ['a member of a nested object', '{"owner":{"ssn":"1","name":"a","pin":2}}', '{"owner":{"name":"a"}}'],
    [
      'members of objects in an array',
      '{"items":[{"sku":"a","cost":1},{"cost":2,"sku":"b"},{"cost":3},{}]}',
      '{"items":[{"sku":"a"},{"sku":"b"},{},{}]}',
    ],
    ['nothing under a property kept whole', '{"raw":{"secret":1},"x":[]}', '{"raw":{"secret":1}}'],
  ])('removes %s, with one comma', (_, text, expected) => {
    expect(scan(account, text).out).toBe(expected);
  });

  it('keeps the whitespace around what stays', () => {
    const text = ' {\n  "secret" : 1 ,\n  "id" : "1" ,\r\n\t"x" : [ 1 , 2 ] ,\n  "name" : "n"\n} ';
    expect(scan(account, text).out).toBe(' {\n  "id" : "1" ,\n  "name" : "n"\n} ');
    expect(scan(account, '{ "id" : "1" , "x" : 2 }').out).toBe('{ "id" : "1" }');
    expect(scan(account, '{ "x" : 2 , "id" : "1" }').out).toBe('{ "id" : "1" }');
    expect(scan(account, '{ "x" : 2 }').out).toBe('{  }');
  });

  it('records what it removes as applyResponseFilter does, by schema location', () => {
    const text =
      '{"hash":"h","owner":{"name":"a","secret":"s","ssn":"1"},"items":[{"sku":"x","cost":1},{"cost":2}]}';
    const { out, removed } = scan(account, text);
    expect(out).toBe('{"owner":{"name":"a"},"items":[{"sku":"x"},{}]}');
    expect(removed).toEqual(['hash', 'owner.secret', 'owner.ssn', 'items[].cost', 'items[].cost']);
    expect(removed).toEqual(referenceRemovals(account, text));
  });

  it('records at most 20 removals, and long keys shortened', () => {
    const members = Array.from({ length: 25 }, (_, i) => `"k${i}":${i}`);
    const long = 'k'.repeat(70);
    const text = `{"${long}":0,${members.join(',')}}`;
    const { out, removed } = scan(account, text);
    expect(out).toBe('{}');
    expect(removed).toHaveLength(20);
    expect(removed[0]).toBe(`${'k'.repeat(64)}…`);
    expect(removed).toEqual(referenceRemovals(account, text));
  });

  it('adds to what `removed` already holds, and records nothing when given null', () => {
    const removed = ['earlier'];
    filterResponseBytes(account, Buffer.from('{"x":1}'), removed);
    expect(removed).toEqual(['earlier', 'x']);
    expect(filterResponseBytes(account, Buffer.from('{"x":1}'), null).toString()).toBe('{}');
  });

  it('walks only as deep as the schema: values a schema without a type leaves open, and kept values, stay whole', () => {
    const untyped = filterOf({
      properties: { owner: { properties: { name: {} } }, items: { items: {} }, id: {} },
    });
    expect(scan(untyped, '{"owner":"a string","items":{"not":"an array"},"id":{"x":1}}').out).toBe(
      '{"owner":"a string","items":{"not":"an array"},"id":{"x":1}}',
    );
    const list = filterOf({ type: 'array', items: { properties: { a: {} } } });
    expect(scan(list, '[{"a":1,"b":2},[{"b":3}],"s",null]').out).toBe('[{"a":1},[{"b":3}],"s",null]');
    expect(scan(untyped, '[{"b":1}]').out).toBe('[{"b":1}]');
  });
});

describe('filterResponseBytes: which keys are declared', () => {
  it('keeps properties the schema leaves open, filtering them when it says how', () => {
    const open = filterOf({ type: 'object', properties: { id: {} }, additionalProperties: true });
    expect(scan(open, '{"id":1,"x":{"y":2}}').out).toBe('{"id":1,"x":{"y":2}}');
    const labels = filterOf({
      type: 'object',
      properties: { id: {} },
      additionalProperties: { type: 'object', properties: { v: {} } },
    });
    const text = '{"id":1,"x":{"v":1,"w":2},"y":{"w":3}}';
    expect(scan(labels, text)).toEqual({ out: '{"id":1,"x":{"v":1},"y":{}}', removed: ['*.w', '*.w'] });
    expect(referenceRemovals(labels, text)).toEqual(['*.w', '*.w']);
  });

  it('tests patternProperties in order on the decoded key', () => {
    const patterned = filterOf({
      type: 'object',
      properties: { id: {} },
      patternProperties: { '^x-': {}, '^n[0-9]+$': { type: 'object', properties: { a: {} } } },
      additionalProperties: false,
    });
    const text = '{"id":1,"x-trace":{"b":1},"\\u0078-escaped":2,"n12":{"a":1,"b":2},"n1x":3,"y":4}';
    const { out, removed } = scan(patterned, text);
    expect(JSON.parse(out)).toEqual({ id: 1, 'x-trace': { b: 1 }, 'x-escaped': 2, n12: { a: 1 } });
    expect(removed).toEqual(['*.b', 'n1x', 'y']);
    expect(removed).toEqual(referenceRemovals(patterned, text));
  });

  it('decodes keys spelt with escapes before matching them', () => {
    const user = filterOf({ type: 'object', properties: { password: {}, é: {}, 'a"b': {}, 'a\\b': {} } });
    const text = '{"pass\\u0077ord":1,"\\u00e9":2,"a\\"b":3,"a\\\\b":4,"\\u0073ecret":5,"\\/":6}';
    const { out, removed } = scan(user, text);
    expect(out).toBe('{"pass\\u0077ord":1,"\\u00e9":2,"a\\"b":3,"a\\\\b":4}');
    expect(removed).toEqual(['secret', '/']);
  });

  it('matches names beyond ASCII, the empty name, and names JSON must escape', () => {
    const odd = filterOf({ type: 'object', properties: { é: {}, '': {}, '\n': {}, ключ: {} } });
    const text = '{"é":1,"":2,"\\n":3,"ключ":4,"e":5,"\\u0000":6}';
    expect(scan(odd, text)).toEqual({ out: '{"é":1,"":2,"\\n":3,"ключ":4}', removed: ['e', '\u0000'] });
  });

  it('treats __proto__ as any other undeclared key', () => {
    const text = '{"__proto__":{"polluted":true},"id":"1","constructor":{"prototype":1}}';
    expect(scan(account, text)).toEqual({ out: '{"id":"1"}', removed: ['__proto__', 'constructor'] });
    expect(referenceRemovals(account, text)).toEqual(['__proto__', 'constructor']);
    const open = filterOf({
      type: 'object',
      additionalProperties: { type: 'object', properties: { a: {} } },
    });
    expect(scan(open, '{"__proto__":{"a":1,"b":2}}').out).toBe('{"__proto__":{"a":1}}');
  });

  it('filters every occurrence of a repeated key, as JSON.parse keeps the last one', () => {
    const text = '{"id":"1","x":1,"id":"2","x":2,"owner":{"a":1},"owner":{"name":"n","b":2}}';
    const { out } = scan(account, text);
    expect(out).toBe('{"id":"1","id":"2","owner":{},"owner":{"name":"n"}}');
    expect(JSON.parse(out)).toEqual({ id: '2', owner: { name: 'n' } });
  });

  it('accepts invalid UTF-8 in strings as JSON.parse of the decoded text does, and passes it on', () => {
    const raw = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')]);
    expect(filterResponseBytes(account, raw, [])).toBe(raw);
    const key = Buffer.concat([Buffer.from('{"a'), Buffer.from([0xff]), Buffer.from('":1,"id":"1"}')]);
    const { out, removed } = scan(account, key);
    expect(out).toBe('{"id":"1"}');
    expect(removed).toEqual(['a\ufffd']);
    const replaced = filterOf({ type: 'object', properties: { 'a\ufffd': {} } });
    expect(filterResponseBytes(replaced, key, [])).not.toBe(key); // "id" goes, "a\xff" (read as a\ufffd) stays
    expect(scan(replaced, key).out).toBe(key.subarray(0, key.indexOf(',')).toString('utf8') + '}');
  });
});

describe('filterResponseBytes: what is JSON (RFC 8259)', () => {
  it.each([
    ['-0'],
    ['1e5'],
    ['1E+5'],
    ['-1.25e-10'],
    ['0.5'],
    ['"\\u0000"'],
    ['"\\ud800"'],
    ['"\\"\\\\\\/\\b\\f\\n\\r\\t\\uABcd"'],
    ['"é\u007f"'],
    ['{}'],
    ['[]'],
    [' \t\r\n[ ] \n'],
    ['true'],
    ['false'],
    ['null'],
    ['""'],
    ['{"":""}'],
    ['[1,[2,[3,{"a":[{}]}]]]'],
  ])('accepts %j', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    const raw = Buffer.from(text);
    expect(filterResponseBytes(null, raw, null)).toBe(raw);
    expect(filterResponseBytes(account, raw, [])).not.toBe('invalid');
  });

  it.each([
    [''],
    ['   '],
    ['{"a":1,}'],
    ['[1,]'],
    ['[,1]'],
    ['{,}'],
    ['01'],
    ['-01'],
    ['1.'],
    ['.5'],
    ['-'],
    ['+1'],
    ['1e'],
    ['1e+'],
    ['0x10'],
    ['"\\x41"'],
    ['"\\z0000"'],
    ['"\\u12"'],
    ['"\\u12G4"'],
    ['"\\'],
    ['"a\tb"'],
    ['"a\nb"'],
    ['"\u0000"'],
    ['"abc'],
    ['{"a":1'],
    ['{"a"'],
    ['{"a":'],
    ['{"a" 1}'],
    ['{"a":1 "b":2}'],
    ['[1'],
    ['[1 2]'],
    ['{} {}'],
    ['1 2'],
    ['NaN'],
    ['Infinity'],
    ['-Infinity'],
    ['undefined'],
    ['tru'],
    ['nul'],
    ['True'],
    ["{'a':1}"],
    ["'a'"],
    ['{a:1}'],
    ['[1] // comment'],
    ['/* comment */ 1'],
    ['\ufeff{}'],
    ['\u00a0{}'],
    ['\f{}'],
    ['{"a":1}}'],
    [']'],
    ['{"a":[1}'],
  ])('refuses %j, as JSON.parse does', (text) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(filterResponseBytes(null, Buffer.from(text), null)).toBe('invalid');
    expect(filterResponseBytes(account, Buffer.from(text), [])).toBe('invalid');
  });

  it('finds a quote, an escape or a control byte at any offset of a long string, as JSON.parse does', () => {
    // String content is read four bytes at a time: each of these lands in every position of a word.
    for (let at = 0; at < 12; at += 1) {
      for (const inner of ['\u0000', '\u001f', '\n', '\\"', '\\\\', '\\u00e9', '\\x', 'é', '\u007f', '"']) {
        const content = 'a'.repeat(at) + inner + 'b'.repeat(12 - at);
        const text = `{"id":"${content}","name":"n"}`;
        const raw = Buffer.from(text);
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        expect(filterResponseBytes(null, raw, null)).toBe(parses ? raw : 'invalid');
        expect(filterResponseBytes(account, raw, [])).toBe(parses ? raw : 'invalid');
      }
    }
  });

  it('forgets what it recorded before it found the answer is not JSON', () => {
    const removed = ['earlier'];
    expect(filterResponseBytes(account, Buffer.from('{"secret":1,"id":1,'), removed)).toBe('invalid');
    expect(removed).toEqual(['earlier']);
  });

  it(`refuses nesting deeper than ${MAX_RESPONSE_DEPTH} levels, where JSON.parse has no limit`, () => {
    const nested = (depth: number, inner = '1'): Buffer =>
      Buffer.from('[{"items":'.repeat(depth / 2) + inner + '}]'.repeat(depth / 2));
    const deepest = nested(MAX_RESPONSE_DEPTH);
    const untyped = filterOf({ properties: { id: {} } });
    expect(filterResponseBytes(null, deepest, null)).toBe(deepest);
    expect(filterResponseBytes(untyped, deepest, [])).toBe(deepest);
    const tooDeep = nested(MAX_RESPONSE_DEPTH, '[]');
    expect(() => JSON.parse(tooDeep.toString())).not.toThrow();
    expect(filterResponseBytes(null, tooDeep, null)).toBe('invalid');
    expect(filterResponseBytes(untyped, tooDeep, [])).toBe('invalid');
    const recursive: ResponseFilter = {
      label: '',
      properties: new Map(),
      extra: 'drop',
      patterns: [],
      items: null,
      kinds: ANY_KIND,
      required: [],
    };
    (recursive.properties as Map<string, ResponseFilter | null>).set('a', recursive);
    const chain = (depth: number): Buffer =>
      Buffer.from('{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1));
    expect(filterResponseBytes(recursive, chain(MAX_RESPONSE_DEPTH), [])).not.toBe('invalid');
    expect(filterResponseBytes(recursive, chain(MAX_RESPONSE_DEPTH + 1), [])).toBe('invalid');
  });
});

describe('filterResponseBytes: the shape it keeps', () => {
  const trace = '{"error":"TypeError: x is undefined","stack":"at handler (/srv/app/routes.js:42:7)"}';

  it('refuses a stack trace cut down to {} where the schema requires properties (issue #16)', () => {
    const owned = filterOf({
      type: 'object',
      required: ['id', 'owner'],
      properties: { id: { type: 'string' }, owner: { type: 'string' } },
    });
    expect(scan(owned, trace)).toEqual({ out: 'breach: upstream answer lacks the required id', removed: [] });
    expect(scan(owned, '{}').out).toBe('breach: upstream answer lacks the required id');
    expect(scan(owned, '{"id":"1","stack":"s"}').out).toBe(
      'breach: upstream answer lacks the required owner',
    );
    expect(scan(owned, '{"owner":"a","stack":"s","id":"1"}')).toEqual({
      out: '{"owner":"a","id":"1"}',
      removed: ['stack'],
    });
  });

  it('refuses an object where the schema declares an array, and the other way round (issue #16)', () => {
    const list = filterOf({ type: 'array', items: { type: 'string' } });
    expect(scan(list, trace).out).toBe(
      'breach: upstream answer has an object at the top, where its schema declares an array',
    );
    expect(scan(list, '["a","b"]').out).toBe('["a","b"]');
    expect(scan(account, '[{"id":"1"}]').out).toBe(
      'breach: upstream answer has an array at the top, where its schema declares an object',
    );
  });

  it('checks the kind of every value the schema types, naming where it is', () => {
    expect(scan(account, '{"owner":"a string"}').out).toBe(
      'breach: upstream answer has a string at owner, where its schema declares an object',
    );
    expect(scan(account, '{"items":{"sku":"x"}}').out).toBe(
      'breach: upstream answer has an object at items, where its schema declares an array',
    );
    expect(scan(account, '{"items":[{"sku":"x"},7]}').out).toBe(
      'breach: upstream answer has a number at items[], where its schema declares an object',
    );
    expect(scan(account, '{"id":{"internal":{"host":"db-7"}}}').out).toBe(
      'breach: upstream answer has an object at id, where its schema declares a string',
    );
    expect(scan(account, '{"id":null}').out).toBe(
      'breach: upstream answer has null at id, where its schema declares a string',
    );
    const counted = filterOf({ type: 'object', additionalProperties: { type: 'integer' } });
    expect(scan(counted, '{"a":1,"b":-2.5e3}').out).toBe('{"a":1,"b":-2.5e3}');
    expect(scan(counted, '{"a":1,"b":true}').out).toBe(
      'breach: upstream answer has a boolean at *, where its schema declares a number',
    );
  });

  it('checks required properties in nested objects and in every item', () => {
    const orders = filterOf({
      type: 'object',
      required: ['lines'],
      properties: {
        lines: {
          type: 'array',
          items: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' }, qty: {} } },
        },
      },
    });
    expect(scan(orders, '{"lines":[{"sku":"a"},{"qty":2}]}').out).toBe(
      'breach: upstream answer lacks the required lines[].sku',
    );
    expect(scan(orders, '{"lines":[{"sku":"a","qty":1},{"sku":"b","note":"x"}]}').out).toBe(
      '{"lines":[{"sku":"a","qty":1},{"sku":"b"}]}',
    );
  });

  it('recognises a required property spelt with escapes, or beyond ASCII', () => {
    const named = filterOf({
      type: 'object',
      required: ['id', 'é'],
      properties: { id: { type: 'string' }, é: { type: 'integer' } },
    });
    expect(scan(named, '{"\u0069d":"1","é":2}').out).toBe('{"\u0069d":"1","é":2}');
    expect(scan(named, '{"id":"1","\u00e9":2}').out).toBe('{"id":"1","\u00e9":2}');
    expect(scan(named, '{"id":"1","e":2}').out).toBe('breach: upstream answer lacks the required é');
  });

  it('admits null where the type does, and whatever a schema without a type admits', () => {
    const maybe = filterOf({
      type: 'object',
      properties: {
        note: { type: ['string', 'null'] },
        owner: { anyOf: [{ type: 'object', properties: { name: {} } }, { type: 'null' }] },
        free: { description: 'no type' },
        any: { anyOf: [{ type: 'string' }, { description: 'no type' }] },
      },
    });
    expect(scan(maybe, '{"note":null,"owner":null,"free":[1],"any":{"a":1}}').out).toBe(
      '{"note":null,"owner":null,"free":[1],"any":{"a":1}}',
    );
    expect(scan(maybe, '{"owner":{"name":"n","pin":"1"}}').out).toBe('{"owner":{"name":"n"}}');
    expect(scan(maybe, '{"owner":"n"}').out).toBe(
      'breach: upstream answer has a string at owner, where its schema declares an object or null',
    );
  });

  it('requires what allOf branches require, and only what every object branch of anyOf and oneOf shares', () => {
    const composed = filterOf({
      allOf: [
        { type: 'object', required: ['id'], properties: { id: {} } },
        {
          oneOf: [
            { type: 'object', required: ['kind', 'card'], properties: { kind: {}, card: {} } },
            { type: 'object', required: ['kind', 'iban'], properties: { kind: {}, iban: {} } },
            { type: 'null' },
          ],
        },
      ],
    });
    expect(scan(composed, '{"id":1,"kind":"card"}').out).toBe('{"id":1,"kind":"card"}');
    expect(scan(composed, '{"id":1,"card":"x"}').out).toBe('breach: upstream answer lacks the required kind');
    expect(scan(composed, '{"kind":"card"}').out).toBe('breach: upstream answer lacks the required id');
    expect(scan(composed, 'null').out).toBe(
      'breach: upstream answer has null at the top, where its schema declares an object',
    );
  });

  it('does not require a property no schema declares: only patterns or additionalProperties could admit it', () => {
    const patterned = filterOf({
      type: 'object',
      required: ['x-id', 'id'],
      properties: { id: {} },
      patternProperties: { '^x-': {} },
    });
    expect(scan(patterned, '{"id":1}').out).toBe('{"id":1}');
  });

  it('reports the first breach in the order of the bytes, and an answer that is no JSON as such', () => {
    expect(scan(account, '{"owner":1,"id":2}').out).toMatch(/has a number at owner/);
    expect(scan(account, '{"id":2,"owner":1}').out).toMatch(/has a number at id/);
    expect(scan(account, '{"owner":1,"id":').out).toBe('invalid');
    const removed = ['earlier'];
    expect(filterResponseBytes(account, Buffer.from('{"secret":1,"owner":2}'), removed)).toBeInstanceOf(
      ShapeBreach,
    );
    expect(removed).toEqual(['earlier']);
  });
});
