/**
 * What `npm run build` compiles ahead of time, checked against what the sources compile at run
 * time: the configuration validator (tools/build-config-validator.mjs) and the JSON scanners'
 * WebAssembly module (tools/build-wasm.mjs). `npm test` builds first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compiledValidator, configSchemaDigest } from '../src/config/ajv-issues.js';
import type * as SchemaCheck from '../src/contract/openapi-schema-check.js';
import type * as SchemaCompiler from '../src/contract/validation/schema-compiler.js';
import { JSON_WAT } from '../src/contract/validation/json-wat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (file: string) => path.join(root, 'dist', file);

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null; schemaDigest?: string };

/** Configurations, valid and not, each checked by both validators. */
function corpus(): unknown[] {
  const demo = parse(readFileSync(path.join(root, 'examples/demo.yaml'), 'utf8')) as Record<string, unknown>;
  const notes = parse(readFileSync(path.join(root, 'examples/notes/gatehouse.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  return [
    demo,
    notes,
    {},
    { listeners: [], apis: [] },
    { ...demo, bogus: 1 },
    { ...demo, listeners: [{ name: 'bad name!', port: 'x', tls: 'prod' }] },
    { ...demo, limits: { maxBodyBytes: 0, headersTimeoutMs: -1 } },
    { ...demo, rateLimits: { policies: { p: { type: 'quota', limit: 1 } } } },
    { ...demo, keys: { store: { sqlite: {}, postgres: { url: '' } } } },
    { ...demo, auth: { signingKeyRotation: { publishAheadSec: 0 }, tokenEndpoint: { lifetimeSec: 99999 } } },
  ];
}

describe('the configuration validator compiled by the build', () => {
  it('is built from the schema as it is now', () => {
    const built = createRequire(import.meta.url)(dist('config/config-validator.cjs')) as Validate;
    expect(built.schemaDigest).toBe(configSchemaDigest());
  });

  it('gives the same verdicts, the same errors and the same defaults as the schema compiled at run time', () => {
    const built = createRequire(import.meta.url)(dist('config/config-validator.cjs')) as Validate;
    const compiled = compiledValidator() as unknown as Validate;
    let invalid = 0;
    for (const config of corpus()) {
      const [a, b] = [structuredClone(config), structuredClone(config)];
      const verdict = built(a);
      expect(verdict).toBe(compiled(b));
      expect(a).toEqual(b); // defaults filled in alike
      expect(built.errors ?? null).toEqual(compiled.errors ?? null);
      if (!verdict) invalid += 1;
    }
    expect(invalid).toBeGreaterThanOrEqual(7);
  });
});

/** OpenAPI documents, valid and not, of both versions: each checked by both validators. */
function documents(): Record<string, unknown>[] {
  const read = (file: string) =>
    parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;
  const bank = read('src/bank/openapi.yaml');
  const notes = read('examples/notes/openapi.yaml');
  const items = read('test/fixtures/test-api.yaml');
  const as30 = (doc: Record<string, unknown>) => ({ ...doc, openapi: '3.0.3' });
  const broken = (doc: Record<string, unknown>) => [
    { ...doc, info: { title: 1 } },
    { ...doc, paths: { 'no-slash': {} } },
    { ...doc, paths: { '/x': { get: { responses: { '200': { description: 2 } } } } } },
    { ...doc, paths: { '/x': { get: { parameters: [{ name: 'id', in: 'nowhere' }], responses: {} } } } },
    {
      ...doc,
      paths: {
        '/x': {
          get: { responses: { '200': { description: 'ok', content: { 'a/b': { schema: { type: 7 } } } } } },
        },
      },
    },
    { ...doc, components: { schemas: { A: { type: 'object', properties: { b: { minimum: 'x' } } } } } },
    { ...doc, bogus: true, tags: 'x' },
    // A circular $ref stays in place for the schema check (then load-document.ts refuses it).
    {
      ...doc,
      components: { schemas: { Node: { properties: { next: { $ref: '#/components/schemas/Node' } } } } },
    },
  ];
  return [bank, notes, items, as30(items), ...broken(bank), ...broken(as30(items))];
}

describe('the OpenAPI validators compiled by the build', () => {
  it('are built from the libraries installed, and used', async () => {
    const check = (await import(dist('contract/openapi-schema-check.js'))) as typeof SchemaCheck;
    for (const version of ['3.0', '3.1'] as const) {
      const built = createRequire(import.meta.url)(dist(`contract/openapi-${version}-validator.cjs`)) as {
        madeFrom: string;
      };
      expect(built.madeFrom).toBe(check.openApiSchemaSources());
      expect(check.usesBuiltValidator(version)).toBe(true);
    }
  });

  it("give swagger-parser's verdicts and errors, for OpenAPI 3.0 and 3.1", async () => {
    const check = (await import(dist('contract/openapi-schema-check.js'))) as typeof SchemaCheck;
    const own = check.parserRequire()('./validators/schema.js') as (api: unknown) => void;
    const outcome = (validate: (api: never) => void, api: unknown) => {
      try {
        validate(structuredClone(api) as never);
        return null;
      } catch (err) {
        return { message: (err as Error).message, details: (err as { details?: unknown }).details };
      }
    };
    let invalid = 0;
    for (const api of documents()) {
      const expected = outcome(own, api);
      expect(outcome(check.checkAgainstSchema, api)).toEqual(expected);
      if (expected !== null) invalid += 1;
    }
    expect(invalid).toBe(12); // the 3.1 schema leaves Schema Objects unchecked (type: 7 passes)
  });
});

describe('the JSON Schema meta-schema validator compiled by the build', () => {
  it("is used, and checks each schema as ajv's own check does, with ajv's error", async () => {
    const compiler = (await import(dist('contract/validation/schema-compiler.js'))) as typeof SchemaCompiler;
    expect(compiler.usesBuiltMetaValidator()).toBe(true);
    const built = compiler.createSchemaCompiler();
    const own = compiler.createSchemaAjv();
    const outcome = (compile: (schema: object) => unknown, schema: object): string => {
      try {
        compile(structuredClone(schema));
        return 'compiled';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const schemas: object[] = [
      { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] },
      { type: 7 },
      { minimum: 'x' },
      { properties: { a: { type: 'integer', maxLength: -1 } } },
      { type: 'array', items: { enum: [] }, uniqueItems: 'yes' },
      { $defs: { a: { type: 'string' } }, $ref: '#/$defs/a' },
      { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'nope' },
      { $schema: 'http://json-schema.org/draft-07/schema#', type: 'string' },
      { anyOf: [{ type: 'string' }, { required: 'a' }] },
      { pattern: '[a-z', type: 'string' },
    ];
    // Every keyword of the meta-schema's vocabularies, given a value of the wrong type, at the
    // root and one level down.
    const vocabularies = path.join(root, 'node_modules/ajv/dist/refs/json-schema-2020-12/meta');
    const keywords = readdirSync(vocabularies).flatMap((file) =>
      Object.keys(
        (JSON.parse(readFileSync(path.join(vocabularies, file), 'utf8')) as { properties?: object })
          .properties ?? {},
      ),
    );
    expect(keywords.length).toBeGreaterThan(40);
    for (const keyword of keywords)
      for (const wrong of [12.5, 'x', [1], { a: 1 }])
        schemas.push({ [keyword]: wrong }, { type: 'object', properties: { a: { [keyword]: wrong } } });
    let refused = 0;
    for (const schema of schemas) {
      const expected = outcome((s) => own.compile(s), schema);
      const actual = outcome((s) => built.compile(s), schema);
      expect([JSON.stringify(schema), actual === 'compiled']).toEqual([
        JSON.stringify(schema),
        expected === 'compiled',
      ]);
      // The same words, but where ajv failed before its own check (a non-string $id throws in its
      // look-ups): the meta-schema's message then comes first.
      if (expected === 'compiled' || expected.startsWith('schema is invalid')) expect(actual).toBe(expected);
      if (expected !== 'compiled') refused += 1;
    }
    expect(refused).toBeGreaterThan(300);
  });
});

describe('the JSON scanners module assembled by the build', () => {
  it('is assembled from the text as it is now', () => {
    const digest = readFileSync(dist('contract/validation/json.wasm.sha256'), 'utf8').trim();
    expect(digest).toBe(createHash('sha256').update(JSON_WAT).digest('hex'));
    const bytes = readFileSync(dist('contract/validation/json.wasm'));
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('\0asm');
  });
});

describe('what gatehouse start loads', () => {
  it("is neither the demo bank's fastify and argon2, nor wabt, a development dependency, nor ioredis", () => {
    // The modules `gatehouse start` imports (src/cli.ts), in a process of their own.
    const script =
      "import { createRequire } from 'node:module';" +
      `await import(${JSON.stringify(dist('process/run.js'))});` +
      'const cache = createRequire(import.meta.url).cache;' +
      'console.log(JSON.stringify(Object.keys(cache)));';
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }),
    ) as string[];
    const packages = new Set(loaded.map((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1]));
    expect(packages.has('ajv')).toBe(true); // the list is real: what start needs is in it
    // ioredis too: a configuration without Redis never loads it (src/redis/client.ts).
    for (const unwanted of ['fastify', 'argon2', 'wabt', 'ioredis'])
      expect(packages.has(unwanted)).toBe(false);
  });
});
