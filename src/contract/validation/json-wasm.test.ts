import { describe, expect, it, vi } from 'vitest';
import { compileResponseFilter, ShapeBreach, type ResponseFilter } from './response-filter.js';
import { filterResponseBytes, filterResponseBytesInScript } from './response-filter-bytes.js';
import { filterInModule, JSON_SCANNER, NEEDS_SCRIPT, WASM_MAX_RESPONSE } from './json-wasm.js';

function filterOf(schema: unknown): ResponseFilter {
  const filter = compileResponseFilter(schema);
  if (filter === null) throw new Error('schema compiles to no filter');
  return filter;
}

const list = filterOf({
  type: 'object',
  properties: { items: { type: 'array', items: { type: 'object', properties: { id: {}, name: {} } } } },
});

/** A response of about `bytes` bytes: items with one undeclared member each. */
function responseOf(bytes: number): Buffer {
  const count = Math.ceil(bytes / 48);
  const items = Array.from({ length: count }, (_, i) => ({ id: i, name: `item ${i}`, secret: 's' }));
  return Buffer.from(JSON.stringify({ items }));
}

describe('the WebAssembly scanner (filterInModule)', () => {
  it('grows its memory for a long answer and gives what the script gives', () => {
    const raw = responseOf(WASM_MAX_RESPONSE - 4096);
    expect(raw.length).toBeLessThanOrEqual(WASM_MAX_RESPONSE);
    const removed: string[] = [];
    const out = filterInModule(list, raw, removed);
    if (out === NEEDS_SCRIPT || out === 'invalid' || out instanceof ShapeBreach) {
      throw new Error(`module answered ${String(out)}`);
    }
    const inScript: string[] = [];
    expect(out.equals(filterResponseBytesInScript(list, raw, inScript) as Buffer)).toBe(true);
    expect(JSON.parse(out.toString('utf8')).items[7]).toEqual({ id: 7, name: 'item 7' });
    expect(removed).toEqual(inScript);
    expect(removed).toHaveLength(20); // MAX_RECORDED
  });

  it('reads nothing of a longer answer that came before: the next, shorter one ends where it ends', () => {
    expect(filterInModule(null, Buffer.from(`["${'x'.repeat(5000)}"]`), null)).not.toBe('invalid');
    // The bytes after this one's end were the last answer's: a string that would close it.
    expect(filterInModule(null, Buffer.from('["xx'), null)).toBe('invalid');
    expect(filterInModule(null, Buffer.from('123'), null)).not.toBe('invalid');
    expect(filterInModule(null, Buffer.from('12'), null)).not.toBe('invalid');
  });

  it('keeps working as new filters keep coming (each configuration reload compiles new ones)', () => {
    const raw = Buffer.from('{"items":[{"id":1,"name":"a","secret":"s"}],"extra":true}');
    let last: ReturnType<typeof filterInModule> = 'invalid';
    // About 30,000 nodes (11 MB): past the point where the module starts a new instance.
    for (let n = 0; n < 10_000; n += 1) last = filterInModule(filterOf(schemaOfList()), raw, []);
    expect(Buffer.isBuffer(last) ? last.toString('utf8') : last).toBe('{"items":[{"id":1,"name":"a"}]}');
  });

  it('leaves an object with over 32 required properties to the script, which finds the one missing', () => {
    const names = Array.from({ length: 40 }, (_, i) => `p${i}`);
    const wide = filterOf({
      type: 'object',
      required: names,
      properties: Object.fromEntries(names.map((name) => [name, { type: 'integer' }])),
    });
    const whole = Object.fromEntries(names.map((name, i) => [name, i]));
    const raw = Buffer.from(JSON.stringify(whole));
    expect(filterInModule(wide, raw, [])).toBe(NEEDS_SCRIPT);
    expect(filterResponseBytes(wide, raw, [])).toBe(raw);
    const lacking = Buffer.from(JSON.stringify({ ...whole, p35: undefined }));
    expect(filterResponseBytes(wide, lacking, [])).toEqual(
      new ShapeBreach('upstream answer lacks the required p35'),
    );
  });
});

function schemaOfList(): unknown {
  return {
    type: 'object',
    properties: { items: { type: 'array', items: { type: 'object', properties: { id: {}, name: {} } } } },
  };
}

describe('without the WebAssembly module (GATEHOUSE_JSON_SCANNER=typescript)', () => {
  it('leaves every body and answer to the TypeScript scanners, with the same verdicts', async () => {
    vi.stubEnv('GATEHOUSE_JSON_SCANNER', 'typescript');
    vi.resetModules();
    try {
      const wasm = await import('./json-wasm.js');
      const json = await import('./safe-json.js');
      const bytes = await import('./response-filter-bytes.js');
      const { compileResponseFilter: compileAgain } = await import('./response-filter.js');
      expect(wasm.JSON_SCANNER).toBe('typescript');
      expect(wasm.requestBodyVerdict(Buffer.from('{"a":1}'), 32, 1000)).toBe(wasm.TO_SCRIPT);
      const bounds = { maxDepth: 32, maxKeys: 1000 };
      expect(json.parseBoundedJson(Buffer.from('{"amount":5,"memo":"é"}'), bounds)).toEqual({
        amount: 5,
        memo: 'é',
      });
      expect(() => json.parseBoundedJson(Buffer.from('{"a":1,"a":2}'), bounds)).toThrow(
        /must not repeat the key "a"/,
      );
      expect(() => json.parseBoundedJson(Buffer.from('{"a":0.99999999999999999}'), bounds)).toThrow();
      const filter = compileAgain({
        type: 'object',
        properties: { items: { type: 'array', items: { type: 'object', properties: { id: {}, name: {} } } } },
      })!;
      const raw = responseOf(4096);
      expect(wasm.filterInModule(filter, raw, null)).toBe(wasm.NEEDS_SCRIPT);
      const out = bytes.filterResponseBytes(filter, raw, null) as Buffer;
      expect(JSON.parse(out.toString('utf8')).items[3]).toEqual({ id: 3, name: 'item 3' });
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});

describe('with the WebAssembly module', () => {
  it('says so for the start-up log', () => {
    expect(JSON_SCANNER).toBe('webassembly');
  });
});
