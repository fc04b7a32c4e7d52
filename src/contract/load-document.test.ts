import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../config/types.js';
import { compileApi } from './compile.js';
import { ContractError } from './contract-error.js';
import { loadApiDocument, loadOpenApiDocument } from './load-document.js';
import { isJsonObject, type JsonObject } from './openapi-types.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-contract-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The ContractError a load fails with; fails the test if it resolves or throws anything else. */
async function loadError(path: string): Promise<ContractError> {
  const err: unknown = await loadOpenApiDocument(path).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(err).toBeInstanceOf(ContractError);
  const contractError = err as ContractError;
  expect(contractError.file).toBe(path);
  expect(contractError.message.startsWith(path)).toBe(true);
  return contractError;
}

function objectAt(value: unknown, ...keys: (string | number)[]): JsonObject {
  let node: unknown = value;
  for (const key of keys) node = (node as Record<string | number, unknown>)[key];
  if (!isJsonObject(node)) throw new Error(`no object at ${keys.join('/')}`);
  return node;
}

const YAML_30 = `
openapi: 3.0.3
info: { title: bank, version: "1" }
paths:
  /accounts/{id}:
    parameters:
      - $ref: '#/components/parameters/AccountId'
    get:
      operationId: getAccount
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Account' }
components:
  parameters:
    AccountId: { name: id, in: path, required: true, schema: { type: string, format: uuid } }
  schemas:
    Account:
      type: object
      properties: { id: { type: string } }
`;

const JSON_31 = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'bank', version: '1' },
  paths: {
    '/health': {
      get: {
        responses: { '200': { $ref: '#/components/responses/Ok' } },
        'x-gatehouse-rate': { limit: 5 },
      },
    },
  },
  components: { responses: { Ok: { description: 'ok' } } },
});

describe('loadOpenApiDocument: valid documents', () => {
  it('loads a YAML 3.0 document and replaces every $ref by its target', async () => {
    const doc = await loadOpenApiDocument(await fixture('bank-30.yaml', YAML_30));
    expect(doc.openapi).toBe('3.0.3');
    const parameter = objectAt(doc.paths, '/accounts/{id}', 'parameters', 0);
    expect(parameter).toMatchObject({ name: 'id', in: 'path', required: true });
    expect(parameter.$ref).toBeUndefined();
    const schema = objectAt(
      doc.paths,
      '/accounts/{id}',
      'get',
      'responses',
      '200',
      'content',
      'application/json',
      'schema',
    );
    expect(schema).toBe(objectAt(doc.components, 'schemas', 'Account'));
  });

  it('loads a JSON 3.1 document, keeping x- extensions', async () => {
    const doc = await loadOpenApiDocument(await fixture('bank-31.json', JSON_31));
    expect(doc.openapi).toBe('3.1.0');
    const get = objectAt(doc.paths, '/health', 'get');
    expect(objectAt(get, 'responses', '200')).toEqual({ description: 'ok' });
    expect(get['x-gatehouse-rate']).toEqual({ limit: 5 });
  });

  it('freezes the loaded document so no stage can change the contract', async () => {
    const doc = await loadOpenApiDocument(await fixture('frozen.yaml', YAML_30));
    expect(Object.isFrozen(doc)).toBe(true);
    expect(Object.isFrozen(objectAt(doc.components, 'schemas', 'Account', 'properties'))).toBe(true);
  });

  it('resolves an external $ref relative to the document, not the working directory', async () => {
    await fixture('shared-responses.yaml', 'Ok:\n  description: from another file\n');
    const text = JSON_31.replace('#/components/responses/Ok', './shared-responses.yaml#/Ok');
    const doc = await loadOpenApiDocument(await fixture('external-ref.json', text));
    expect(objectAt(doc.paths, '/health', 'get', 'responses', '200')).toEqual({
      description: 'from another file',
    });
  });
});

describe('loadOpenApiDocument: refused documents', () => {
  it('refuses Swagger 2.0 and says to convert it', async () => {
    const path = await fixture(
      'swagger.yaml',
      'swagger: "2.0"\ninfo: { title: t, version: "1" }\npaths: {}\n',
    );
    const err = await loadError(path);
    expect(err.pointer).toBe('/swagger');
    expect(err.message).toContain('Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1');
  });

  it.each([
    ['3.2.0', 'OpenAPI 3.2.0 is not supported'],
    ['4.0.0', 'OpenAPI 4.0.0 is not supported'],
    ['3.0', 'OpenAPI 3.0 is not supported'],
  ])('refuses openapi %s', async (version, expected) => {
    const path = await fixture(
      `v${version}.yaml`,
      `openapi: "${version}"\ninfo: { title: t, version: "1" }\npaths: {}\n`,
    );
    const err = await loadError(path);
    expect(err.pointer).toBe('/openapi');
    expect(err.message).toContain(expected);
  });

  it('refuses a document without an openapi version string (an unquoted YAML number)', async () => {
    const err = await loadError(
      await fixture('number.yaml', 'openapi: 3.0\ninfo: { title: t, version: "1" }\npaths: {}\n'),
    );
    expect(err.pointer).toBe('/openapi');
    expect(err.message).toContain('missing "openapi" version string');
  });

  it('refuses a file that is not YAML, with the line of the fault', async () => {
    const err = await loadError(
      await fixture('broken.yaml', 'openapi: 3.0.3\ninfo: {\n  title: [unclosed\n'),
    );
    expect(err.message).toMatch(/not valid YAML or JSON \(line \d+, column \d+\)/);
  });

  it('refuses duplicate keys, which would make the contract ambiguous', async () => {
    const text = 'openapi: 3.0.3\ninfo: { title: t, version: "1" }\npaths: {}\npaths: {}\n';
    const err = await loadError(await fixture('duplicate.yaml', text));
    expect(err.message).toContain('not valid YAML or JSON (line 4');
  });

  it('refuses a schema violation, naming its JSON pointer and line', async () => {
    const text = YAML_30.replace(
      '      operationId: getAccount\n      responses:',
      '      operationId: getAccount\n      answers:',
    );
    const err = await loadError(await fixture('no-responses.yaml', text));
    expect(err.pointer).toBe('/paths/~1accounts~1{id}/get');
    expect(err.message).toContain(
      "/paths/~1accounts~1{id}/get (line 8) must have required property 'responses'",
    );
    expect(err.message).toContain('must NOT have additional properties ("answers")');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('refuses a $ref to nothing, pointing at the $ref itself', async () => {
    const text = YAML_30.replace(
      "$ref: '#/components/schemas/Account'",
      "$ref: '#/components/schemas/Acount'",
    );
    const err = await loadError(await fixture('missing-ref.yaml', text));
    const refPointer = '/paths/~1accounts~1{id}/get/responses/200/content/application~1json/schema';
    expect(err.pointer).toBe(refPointer);
    expect(err.message).toContain('$ref "#/components/schemas/Acount" points to nothing (line 15)');
  });

  it('refuses a circular $ref, naming where it loops', async () => {
    const text = YAML_30.replace(
      'properties: { id: { type: string } }',
      "properties: { parent: { $ref: '#/components/schemas/Account' } }",
    );
    const err = await loadError(await fixture('circular.yaml', text));
    expect(err.pointer).toBe('/components/schemas/Account/properties/parent');
    expect(err.message).toContain('circular $ref');
  });

  it('refuses a $ref over HTTP without fetching it', async () => {
    const text = JSON_31.replace('#/components/responses/Ok', 'http://127.0.0.1:9/responses.yaml#/Ok');
    const err = await loadError(await fixture('http-ref.json', text));
    expect(err.message).toContain('$refs over HTTP are not fetched at start-up');
  });

  it('refuses an external $ref to a missing file', async () => {
    const text = JSON_31.replace('#/components/responses/Ok', './nowhere.yaml#/Ok');
    const err = await loadError(await fixture('missing-file-ref.json', text));
    expect(err.message).toContain('an external $ref cannot be read');
  });

  it('refuses a missing document with the file system reason', async () => {
    const err = await loadError(join(dir, 'does-not-exist.yaml'));
    expect(err.message).toContain('cannot read the OpenAPI document (ENOENT)');
  });

  it('refuses a document that is not an object', async () => {
    const err = await loadError(await fixture('list.yaml', '- openapi: 3.0.3\n'));
    expect(err.message).toContain('expected an OpenAPI 3.0 or 3.1 document');
  });
});

const NOTES_30 = `openapi: 3.0.3
info: { title: notes, version: "1" }
paths:
  /notes:
    get:
      responses:
        200: { $ref: './shared-notes.yaml#/Ok' }
    post:
      responses:
        201: { description: created }
`;

const SECURITY_OVERLAY = `overlay: 1.0.0
info: { title: notes security, version: "1" }
actions:
  - target: $
    update:
      components:
        securitySchemes:
          notesToken: { type: apiKey, in: header, name: X-Api-Key }
  - target: $.paths['/notes'].post
    update:
      security: [{ notesToken: [] }]
      x-gatehouse-rate-limit: writes
`;

async function notesFixture(name: string, text = NOTES_30): Promise<string> {
  await fixture('shared-notes.yaml', 'Ok:\n  description: from another file\n');
  return fixture(name, text);
}

/** The ContractError a load with overlays or default security fails with. */
async function loadWithError(load: Promise<unknown>, file: string): Promise<ContractError> {
  const err = await load.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(err).toBeInstanceOf(ContractError);
  expect((err as ContractError).file).toBe(file);
  return err as ContractError;
}

describe('loadOpenApiDocument with overlays', () => {
  it('applies the overlays before validation, while relative $refs still resolve against the document', async () => {
    const path = await notesFixture('notes.yaml');
    const overlay = await fixture('notes-security.overlay.yaml', SECURITY_OVERLAY);
    const doc = await loadOpenApiDocument(path, [overlay]);
    const post = objectAt(doc.paths, '/notes', 'post');
    expect(post.security).toEqual([{ notesToken: [] }]);
    expect(post['x-gatehouse-rate-limit']).toBe('writes');
    expect(objectAt(doc.components, 'securitySchemes', 'notesToken')).toMatchObject({ type: 'apiKey' });
    expect(objectAt(doc.paths, '/notes', 'get', 'responses', '200')).toEqual({
      description: 'from another file',
    });
    expect(Object.isFrozen(post)).toBe(true);
  });

  it('refuses an overlay that breaks the document, naming the overlays it applied', async () => {
    const path = await notesFixture('notes-broken.yaml');
    const overlay = await fixture(
      'break.overlay.yaml',
      "overlay: 1.0.0\ninfo: { title: t, version: '1' }\nactions:\n  - target: $.paths['/notes'].post\n    update: { security: yes }\n",
    );
    const err = await loadWithError(loadOpenApiDocument(path, [overlay]), path);
    // The overlay wrote that part: the document's own file has no line for it.
    expect(err.message).toContain(
      'does not match the OpenAPI schema: /paths/~1notes/post/security must be array',
    );
    expect(err.message).toContain(`(in the document as changed by the overlays ${overlay})`);
  });

  it('refuses an overlay action whose target misses, naming the overlay file and line', async () => {
    const path = await notesFixture('notes-typo.yaml');
    const overlay = await fixture(
      'typo.overlay.yaml',
      SECURITY_OVERLAY.replace("['/notes'].post", "['/notez'].post"),
    );
    const err = await loadWithError(loadOpenApiDocument(path, [overlay]), overlay);
    expect(err.message).toContain(
      `${overlay}: actions[1].target (line 9): $.paths['/notez'].post matches nothing`,
    );
  });

  it('still says a Swagger 2.0 document must be converted, before any overlay is read', async () => {
    const path = await fixture('swagger-overlaid.yaml', 'swagger: "2.0"\ninfo: { title: t, version: "1" }\n');
    const err = await loadWithError(loadOpenApiDocument(path, [join(dir, 'never-read.yaml')]), path);
    expect(err.message).toContain('Swagger 2.0 is not supported');
  });
});

describe('loadApiDocument: defaultSecurity', () => {
  const api = (openapi: string, overlays: string[] = []) => ({
    name: 'notes',
    openapi,
    overlays,
    defaultSecurity: [{ notesToken: [] }],
  });

  it('becomes the top-level security of a document that declares none, after the overlays', async () => {
    const path = await notesFixture('notes-default.yaml');
    const overlaid = SECURITY_OVERLAY.replace(
      'security: [{ notesToken: [] }]',
      'security: [{ notesToken: [], other: [] }]',
    );
    const doc = await loadApiDocument(api(path, [await fixture('schemes.overlay.yaml', overlaid)]));
    expect(doc.security).toEqual([{ notesToken: [] }]);
    // Compiled, an operation without its own security takes the default; one with its own keeps it.
    const upstream: UpstreamConfig = {
      url: 'https://127.0.0.1:8444',
      socketPath: null,
      tls: { dev: true },
      connectTimeoutMs: 1,
      responseTimeoutMs: 1,
      maxResponseBytes: 1,
      connections: 1,
    };
    const compiled = compileApi({ name: 'notes', openapi: path, basePath: '/', upstream }, doc);
    const security = Object.fromEntries(compiled.operations.map((op) => [op.method, op.security]));
    expect(security).toEqual({ GET: [{ notesToken: [] }], POST: [{ notesToken: [], other: [] }] });
  });

  it('refuses a scheme the document does not declare, and says to declare it in an overlay', async () => {
    const path = await notesFixture('notes-no-scheme.yaml');
    const err = await loadWithError(loadApiDocument(api(path)), path);
    expect(err.pointer).toBe('/components');
    expect(err.message).toContain(
      'defaultSecurity of API "notes" names the scheme "notesToken", which components.securitySchemes of the document does not declare: declare it in an overlay',
    );
  });

  it('refuses a document that declares its own top-level security, rather than choosing one', async () => {
    const path = await notesFixture('notes-secured.yaml', NOTES_30.replace('paths:', 'security: []\npaths:'));
    const overlay = await fixture('schemes-only.overlay.yaml', SECURITY_OVERLAY);
    const err = await loadWithError(loadApiDocument(api(path, [overlay])), path);
    expect(err.pointer).toBe('/security');
    expect(err.message).toContain(
      'the document declares a top-level "security" (line 3) and API "notes" sets defaultSecurity',
    );
    expect(err.message).toContain('(target: $.security, remove: true)');
  });

  it('accepts the document once an overlay removes its own security', async () => {
    const path = await notesFixture(
      'notes-unsecured.yaml',
      NOTES_30.replace('paths:', 'security: [{}]\npaths:'),
    );
    const overlay = await fixture(
      'drop-security.overlay.yaml',
      `${SECURITY_OVERLAY}  - target: $.security\n    remove: true\n`,
    );
    const doc = await loadApiDocument(api(path, [overlay]));
    expect(doc.security).toEqual([{ notesToken: [] }]);
  });
});
