import { describe, expect, it } from 'vitest';
import { decimalForm, JsonRefusal, parseBoundedJson, type JsonBounds } from './safe-json.js';

const bounds: JsonBounds = { maxDepth: 4, maxKeys: 8 };
const parse = (text: string, b: JsonBounds = bounds): unknown => parseBoundedJson(Buffer.from(text), b);
const refusal = (text: string, b: JsonBounds = bounds): string => {
  try {
    parse(text, b);
  } catch (err) {
    if (err instanceof JsonRefusal) return err.rule;
    throw err;
  }
  throw new Error(`accepted: ${text}`);
};

describe('parseBoundedJson', () => {
  it.each([
    ['{"a":[1,2,{"b":null}],"c":"\\u00e9\\ud83d\\ude00","d":-0.5e-3,"e":true,"f":false}'],
    ['  "just a string"  '],
    ['0'],
    ['[]'],
    ['{}'],
    ['123456789012345.67'],
    ['9007199254740991'],
    ['0.30000000000000004'],
  ])('accepts %s exactly as JSON.parse reads it', (text) => {
    expect(parse(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['', 'must be valid JSON'],
    ['{"a":1,}', 'must be valid JSON'],
    ['[1,]', 'must be valid JSON'],
    ["{'a':1}", 'must be valid JSON'],
    ['{"a":01}', 'must be valid JSON'],
    ['{"a":1.}', 'must be valid JSON'],
    ['{"a":"\t"}', 'must be valid JSON'],
    ['{"a":"\\x41"}', 'must be valid JSON'],
    ['NaN', 'must be valid JSON'],
    ['{"a":1} x', 'must be valid JSON'],
    ['\ufeff{}', 'must be valid JSON'],
    ['{"a":{"b":{"c":{"d":{}}}}}', 'must not nest deeper than 4 levels'],
    ['[[[[[1]]]]]', 'must not nest deeper than 4 levels'],
    ['{"a":1,"a":2}', 'must not repeat the key "a"'],
    ['{"a":1,"\\u0061":2}', 'must not repeat the key "a"'],
    ['{"<x>":1,"<x>":2}', 'must not repeat a key'],
    ['{"__proto__":{}}', 'must not use the key "__proto__"'],
    ['{"a":{"constructor":{}}}', 'must not use the key "constructor"'],
    ['{"prototype":1}', 'must not use the key "prototype"'],
    ['{"a":"\\udc00"}', 'must not contain unpaired surrogate escapes'],
    ['{"a":"\\ud800x"}', 'must not contain unpaired surrogate escapes'],
  ])('refuses %s: %s', (text, rule) => {
    expect(refusal(text)).toBe(rule);
  });

  it('counts keys over the whole document', () => {
    expect(refusal('[{"a":1,"b":2,"c":3},{"d":1,"e":2,"f":3},{"g":1,"h":2,"i":3}]')).toBe(
      'must have at most 8 keys',
    );
  });

  it('finds a duplicate among many keys (the Set path)', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    const wide = { maxDepth: 4, maxKeys: 100 };
    expect(parse(`{${keys.join(',')}}`, wide)).toHaveProperty('k39', 39);
    expect(refusal(`{${keys.join(',')},"k3":0}`, wide)).toBe('must not repeat the key "k3"');
  });

  it('refuses numbers a double would silently round', () => {
    for (const text of [
      '1e400',
      '-1e309',
      '9007199254740993',
      '1000000.0000000000000001',
      '123456789012345678',
      '0.99999999999999999',
      '1.0000000000000001',
      '{"amount":1.0000000000000001}',
      '-0.99999999999999999e2',
    ]) {
      expect(refusal(text)).toMatch(/significant digits/);
    }
  });

  it('accepts long literals a double holds exactly, and writes decimal forms without zeros', () => {
    for (const text of ['0.1', '1.50', '9007199254740991', '0.30000000000000004', '1.5e-300', '100e-2']) {
      expect(parse(text)).toBe(Number(text));
    }
    expect(decimalForm('-0.0120e1')).toBe('-12e0');
    expect(decimalForm('1200')).toBe('12e4');
    expect(decimalForm('0.000')).toBe('0');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => parseBoundedJson(Buffer.from([0x22, 0xc3, 0x28, 0x22]), bounds)).toThrow(
      'must be UTF-8 encoded',
    );
  });

  it('allows constructor and prototype where the schema declares them, never __proto__', () => {
    const declared = { ...bounds, allowedSpecialKeys: new Set(['constructor', 'prototype']) };
    expect(parse('{"constructor":"Ferrari"}', declared)).toEqual({ constructor: 'Ferrari' });
    expect(refusal('{"__proto__":1}', declared)).toBe('must not use the key "__proto__"');
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });
});
