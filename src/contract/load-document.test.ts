import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from './contract-error.js';
import { loadOpenApiDocument } from './load-document.js';
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
