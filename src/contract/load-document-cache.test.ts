import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOpenApiDocument } from './load-document.js';

const document = (schemaRef: string) => `openapi: 3.1.0
info: { title: cached, version: '1' }
paths:
  /things:
    get:
      responses:
        '200':
          description: things
          content: { application/json: { schema: { $ref: '${schemaRef}' } } }
`;

describe('loading a document again (a reload)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-doc-cache-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes the document validated before when nothing it was made from changed', async () => {
    const file = join(dir, 'api.yaml');
    await writeFile(join(dir, 'thing.yaml'), 'type: object\nproperties: { id: { type: string } }\n');
    await writeFile(file, document('./thing.yaml'));
    const first = await loadOpenApiDocument(file);
    expect(await loadOpenApiDocument(file)).toBe(first);
  });

  it('validates again when the document or a file its $refs reach changed', async () => {
    const file = join(dir, 'api.yaml');
    await writeFile(join(dir, 'thing.yaml'), 'type: object\nproperties: { id: { type: string } }\n');
    await writeFile(file, document('./thing.yaml'));
    const first = await loadOpenApiDocument(file);
    await writeFile(join(dir, 'thing.yaml'), 'type: object\nproperties: { id: { type: integer } }\n');
    const second = await loadOpenApiDocument(file);
    expect(second).not.toBe(first);
    const schema = (doc: typeof first): string => JSON.stringify(doc.paths);
    expect(schema(second)).toContain('integer');
    await writeFile(file, document('./thing.yaml').replace('things', 'all the things'));
    expect(await loadOpenApiDocument(file)).not.toBe(second);
  });

  it('never keeps a document that failed: a fixed file loads, a broken one is refused each time', async () => {
    const file = join(dir, 'api.yaml');
    await writeFile(file, document('./missing.yaml'));
    await expect(loadOpenApiDocument(file)).rejects.toThrow();
    await expect(loadOpenApiDocument(file)).rejects.toThrow();
    await writeFile(join(dir, 'missing.yaml'), 'type: string\n');
    await expect(loadOpenApiDocument(file)).resolves.toBeDefined();
  });
});
