import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from './contract-error.js';
import { applyOverlays, readOverlay } from './overlay.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-overlay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;
async function overlayFile(text: string, extension = 'yaml'): Promise<string> {
  fileCount += 1;
  const path = join(dir, `overlay-${fileCount}.${extension}`);
  await writeFile(path, text);
  return path;
}

/** An overlay file with the header every test repeats, then `actions`. */
function overlayYaml(actions: string): string {
  return `overlay: 1.0.0\ninfo:\n  title: operator policy\n  version: "1"\nactions:\n${actions}`;
}

async function applied(document: unknown, ...texts: string[]): Promise<unknown> {
  const overlays = [];
  for (const text of texts) overlays.push(await readOverlay(await overlayFile(text)));
  return applyOverlays(document, overlays);
}

/** The ContractError an overlay fails with (reading or applying); its message starts with the file. */
async function overlayError(document: unknown, text: string): Promise<ContractError> {
  const path = await overlayFile(text);
  const err: unknown = await readOverlay(path)
    .then((overlay) => applyOverlays(document, [overlay]))
    .catch((thrown: unknown) => thrown);
  if (!(err instanceof ContractError)) throw new Error(`expected a ContractError, got ${String(err)}`);
  expect(err.file).toBe(path);
  expect(err.message.startsWith(`${path}: `)).toBe(true);
  return err;
}

function notesDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'notes', version: '1' },
    paths: {
      '/notes': {
        get: {
          parameters: [
            { name: 'limit', in: 'query' },
            { name: 'debug', in: 'query' },
            { name: 'trace', in: 'header' },
            { name: 'verbose', in: 'query' },
          ],
          security: [{}],
          tags: ['public'],
          responses: { '200': { description: 'ok' } },
        },
        post: { 'x-vendor-internal': true, responses: { '201': { description: 'created' } } },
      },
      '/admin': { delete: { responses: { '204': { description: 'gone' } } } },
    },
    components: { schemas: { Note: { type: 'object', properties: { text: { type: 'string' } } } } },
  };
}

describe('applyOverlays: Overlay 1.0 update and remove', () => {
  it('merges an update into every object a wildcard target selects, keeping what the update does not name', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml('  - target: $.paths.*.*\n    update:\n      x-gatehouse-rate-limit: per-client\n'),
    );
    expect(result).toMatchObject({
      paths: {
        '/notes': {
          get: { 'x-gatehouse-rate-limit': 'per-client', tags: ['public'] },
          post: { 'x-gatehouse-rate-limit': 'per-client', 'x-vendor-internal': true },
        },
        '/admin': { delete: { 'x-gatehouse-rate-limit': 'per-client' } },
      },
    });
  });

  it('merges nested objects recursively, replaces same-named values and replaces lists whole', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml(`  - target: $
    update:
      info: { title: notes (operator) }
      paths:
        /notes:
          get:
            security: [{ notesToken: [notes:read] }]
      components:
        schemas:
          Note: { maxProperties: 1, properties: { text: { maxLength: 500 } } }
`),
    );
    expect(result).toMatchObject({
      info: { title: 'notes (operator)', version: '1' },
      components: {
        schemas: {
          Note: {
            type: 'object',
            maxProperties: 1,
            properties: { text: { type: 'string', maxLength: 500 } },
          },
        },
      },
    });
    // Overlay 1.0: a list is replaced, so the vendor's anonymous requirement [{}] does not survive.
    expect(result).toHaveProperty(['paths', '/notes', 'get', 'security'], [{ notesToken: ['notes:read'] }]);
  });

  it('appends the update as one entry when the target is a list', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml("  - target: $.paths['/notes'].get.parameters\n    update: { name: page, in: query }\n"),
    );
    expect(result).toHaveProperty(['paths', '/notes', 'get', 'parameters', 4], { name: 'page', in: 'query' });
  });

  it('removes list entries selected by a filter from the highest index down, so each index still holds', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml(
        "  - target: $.paths['/notes'].get.parameters[?@.in == 'query' && @.name != 'limit']\n    remove: true\n",
      ),
    );
    expect(result).toHaveProperty(
      ['paths', '/notes', 'get', 'parameters'],
      [
        { name: 'limit', in: 'query' },
        { name: 'trace', in: 'header' },
      ],
    );
  });

  it('removes a node selected twice only once', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml("  - target: $.paths['/notes'].get.parameters[0,0]\n    remove: true\n"),
    );
    expect(result).toHaveProperty(['paths', '/notes', 'get', 'parameters', 'length'], 3);
  });

  it('removes object members, primitives among them, and a member whose name needs escaping', async () => {
    const document = { ...notesDocument(), "x-it's": { a: 1 } };
    const result = await applied(
      document,
      overlayYaml(`  - target: $.paths['/admin']
    remove: true
  - target: $.paths.*.*['x-vendor-internal']
    remove: true
  - target: "$['x-it\\\\'s']"
    remove: true
`),
    );
    expect(result).not.toHaveProperty(['paths', '/admin']);
    expect(result).not.toHaveProperty(['paths', '/notes', 'post', 'x-vendor-internal']);
    expect(result).not.toHaveProperty(["x-it's"]);
  });

  it('applies actions in order, each to the result of the one before, and overlays in the order given', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml(`  - target: $.paths['/notes'].get.security
    remove: true
  - target: $.paths['/notes'].get
    update: { security: [{ first: [] }] }
`),
      overlayYaml("  - target: $.paths['/notes'].get.security\n    update: { second: [] }\n"),
    );
    expect(result).toHaveProperty(['paths', '/notes', 'get', 'security'], [{ first: [] }, { second: [] }]);
  });

  it('leaves the document it was given unchanged, and shares no object with the overlay', async () => {
    const document = notesDocument();
    const before = structuredClone(document);
    const text = overlayYaml('  - target: $.paths.*.*\n    update: { x-gatehouse-mark: { level: 1 } }\n');
    const result = (await applied(document, text)) as ReturnType<typeof notesDocument>;
    expect(document).toEqual(before);
    const marks = [result.paths['/notes'].get, result.paths['/notes'].post].map(
      (op) => op['x-gatehouse-mark' as never],
    );
    expect(marks[0]).toEqual({ level: 1 });
    expect(marks[0]).not.toBe(marks[1]);
  });

  it('makes a "__proto__" key of an update a plain property, never the prototype', async () => {
    const result = await applied(
      notesDocument(),
      overlayYaml('  - target: $.info\n    update: { __proto__: { polluted: true } }\n'),
    );
    const info = (result as { info: object }).info;
    expect(Object.getPrototypeOf(info)).toBe(Object.prototype);
    expect(Object.hasOwn(info, '__proto__')).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('reads a JSON overlay, with x- extensions at every level', async () => {
    const overlay = {
      overlay: '1.0.1',
      info: { title: 'json', version: '2', 'x-owner': 'ops' },
      extends: './openapi.yaml',
      'x-reviewed': true,
      actions: [{ target: '$.info', description: 'mark', update: { 'x-mark': 1 }, 'x-ticket': 'OPS-1' }],
    };
    const path = await overlayFile(JSON.stringify(overlay), 'json');
    const result = applyOverlays(notesDocument(), [await readOverlay(path)]);
    expect(result).toHaveProperty(['info', 'x-mark'], 1);
  });
});

describe('applyOverlays: refused actions name the file, the action and its line', () => {
  it('refuses a target that matches nothing, so a typo cannot silently drop a security requirement', async () => {
    const text = overlayYaml(`  - target: $.info
    update: { x-a: 1 }
  - target: $.paths['/notez'].get
    update:
      security: [{ notesToken: [] }]
`);
    const err = await overlayError(notesDocument(), text);
    expect(err.message).toBe(
      `${err.file}: actions[1].target (line 8): $.paths['/notez'].get matches nothing in the document ` +
        '(as changed by the actions before it); a target that misses is refused so that a typo cannot ' +
        'silently drop a policy: correct the target, or delete the action',
    );
  });

  it('refuses a target that is not RFC 9535 JSONPath', async () => {
    const err = await overlayError(
      notesDocument(),
      overlayYaml('  - target: paths.notes\n    remove: true\n'),
    );
    expect(err.message).toContain(
      'actions[0].target (line 6): paths.notes is not a valid RFC 9535 JSONPath query: ',
    );
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('refuses to update a primitive and says to target the object that holds it', async () => {
    const err = await overlayError(
      notesDocument(),
      overlayYaml('  - target: $.info.title\n    update: notes 2\n'),
    );
    expect(err.message).toContain(
      "actions[0].target (line 6): selects a string at $['info']['title'], which Overlay 1.0 cannot update: target the object that holds it",
    );
  });

  it('refuses to remove the document root', async () => {
    const err = await overlayError(notesDocument(), overlayYaml('  - target: $\n    remove: true\n'));
    expect(err.message).toContain(
      'actions[0].target (line 6): selects the document root ($), which cannot be removed',
    );
  });

  it('refuses an update that is not a mapping for an object target', async () => {
    const err = await overlayError(notesDocument(), overlayYaml('  - target: $.info\n    update: [a]\n'));
    expect(err.message).toContain("selects the object $['info']: update must be a mapping to merge into it");
  });

  it('refuses a list update for a list target, which Overlay 1.0 and 1.1 apply differently', async () => {
    const err = await overlayError(
      notesDocument(),
      overlayYaml("  - target: $.paths['/notes'].get.tags\n    update: [b]\n"),
    );
    expect(err.message).toContain(
      "selects the list $['paths']['/notes']['get']['tags'] and update is a list too",
    );
  });
});

describe('readOverlay: the shape of an Overlay 1.0 document', () => {
  const header = 'info:\n  title: t\n  version: "1"\nactions:\n  - target: $.info\n    update: { x-a: 1 }\n';

  it.each([
    [
      'an Overlay 1.1 document',
      `overlay: 1.1.0\n${header}`,
      'overlay (line 1): Overlay 1.1.0 is not supported: expected 1.0.x',
    ],
    [
      'an unquoted number version',
      `overlay: 1.0\n${header}`,
      'overlay (line 1): must be a version string such as "1.0.0"',
    ],
    ['a missing version', header, '"overlay" is missing: write overlay: 1.0.0'],
    [
      'an unknown top-level field',
      `overlay: 1.0.0\nupdates: []\n${header}`,
      'updates (line 2): unknown field "updates": allowed here are overlay, info, extends, actions and x- extensions',
    ],
    [
      'a missing info title',
      'overlay: 1.0.0\ninfo: { version: "1" }\nactions: [{ target: $, update: {} }]\n',
      'info (line 2): "title" is missing',
    ],
    [
      'an empty action list',
      'overlay: 1.0.0\ninfo: { title: t, version: "1" }\nactions: []\n',
      'actions (line 3): "actions" must be a list of at least one action',
    ],
    [
      'a non-string extends',
      `overlay: 1.0.0\nextends: 3\n${header}`,
      'extends (line 2): must be a non-empty string',
    ],
  ])('refuses %s', async (_, text, expected) => {
    const err = await overlayError({}, text);
    expect(err.message).toContain(expected);
  });

  it.each([
    [
      'a missing target',
      '  - update: { x-a: 1 }\n',
      'actions[0] (line 6): "target" is missing: it must be a string',
    ],
    [
      'an unknown action field',
      '  - target: $.info\n    updat: { x-a: 1 }\n',
      'actions[0].updat (line 7): unknown field "updat": allowed here are target, description, update, remove and x- extensions',
    ],
    [
      'neither update nor remove',
      '  - target: $.info\n    remove: false\n',
      'actions[0] (line 6): has neither update nor remove: true',
    ],
    [
      'both update and remove',
      '  - target: $.info\n    remove: true\n    update: { x-a: 1 }\n',
      'actions[0] (line 6): has both update and remove: true, and the update would be ignored',
    ],
    [
      'a remove that is not a boolean',
      '  - target: $.info\n    remove: "yes"\n',
      'actions[0].remove (line 7): must be true or false',
    ],
    [
      'an action that is not a mapping',
      '  - $.info\n',
      'actions[0] (line 6): must be a mapping with target and update or remove',
    ],
  ])('refuses an action with %s', async (_, actions, expected) => {
    const err = await overlayError(notesDocument(), overlayYaml(actions));
    expect(err.message).toContain(expected);
  });

  it('refuses duplicate keys and broken YAML with the line, as for the OpenAPI document', async () => {
    const duplicate = await overlayError({}, `overlay: 1.0.0\noverlay: 1.0.1\n`);
    expect(duplicate.message).toContain('not valid YAML or JSON (line 2');
    const broken = await overlayError({}, 'overlay: 1.0.0\ninfo: {\n');
    expect(broken.message).toMatch(/not valid YAML or JSON \(line \d+, column \d+\)/);
  });

  it('refuses a missing file with the file system reason', async () => {
    const path = join(dir, 'nowhere.yaml');
    const err = await readOverlay(path).catch((thrown: unknown) => thrown);
    expect(err).toBeInstanceOf(ContractError);
    expect((err as ContractError).message).toBe(`${path}: cannot read the overlay (ENOENT)`);
  });
});
