/**
 * What `npm run build` compiles ahead of time, checked against what the sources compile at run
 * time: the configuration validator (tools/build-config-validator.mjs) and the JSON scanners'
 * WebAssembly module (tools/build-wasm.mjs). `npm test` builds first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compiledValidator, configSchemaDigest } from '../src/config/ajv-issues.js';
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

describe('the JSON scanners module assembled by the build', () => {
  it('is assembled from the text as it is now', () => {
    const digest = readFileSync(dist('contract/validation/json.wasm.sha256'), 'utf8').trim();
    expect(digest).toBe(createHash('sha256').update(JSON_WAT).digest('hex'));
    const bytes = readFileSync(dist('contract/validation/json.wasm'));
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('\0asm');
  });
});

describe('what gatehouse start loads', () => {
  it("is neither the demo bank's fastify and argon2 nor wabt, a development dependency", () => {
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
    for (const unwanted of ['fastify', 'argon2', 'wabt']) expect(packages.has(unwanted)).toBe(false);
  });
});
