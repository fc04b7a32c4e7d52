/**
 * Every fenced code block of the README and docs/*.md, run against the real code (issue #18,
 * item 4). A check claims its block by file, language and first line; a block that no check
 * claims fails the first test, which names its file and line, so that a new sample cannot slip
 * in unrun. When a sample turns out wrong, the fix belongs in the doc, not here.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exec as queryJsonPath, type JsonValue } from 'jsonpath-rfc9535';
import ts from 'typescript';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { IdentityAssertions } from '../src/auth/assertion/identity-assertions.js';
import { IdentityRefused } from '../src/auth/assertion/verify-identity.js';
import { examplePrincipal } from '../src/auth/testing.js';
import {
  loadSigningKeyRing,
  rotationTimingOf,
  type SigningKeyRing,
} from '../src/auth/signing/signing-keys.js';
import { compileEffectivePolicy, type EffectivePolicy } from '../src/cli/effective-policy.js';
import { describeRoute, type RouteRecord } from '../src/cli/route-record.js';
import { checkConfig, configDefaults, formatIssue, type GatehouseConfig } from '../src/config/index.js';
import { makeIdentity, minimalYaml } from '../src/config/testing.js';
import {
  cli,
  commentedVariants,
  fencedBlocks,
  forThisCheckout,
  mergeFragment,
  optionalForms,
  root,
  runShell,
  shellCommands,
  startBackground,
  type Block,
} from './support/doc-samples.js';
import { fetchResponse, startHarness, type Harness } from './support/gateway-harness.js';
import { LOGIN_PATH_YAML } from './support/apis.js';
import { OPERATION_MARKS } from '../src/contract/compile.js';

const MARKDOWN_FILES = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const BLOCKS = MARKDOWN_FILES.flatMap(fencedBlocks);

/** Which block a check runs: its file, its language and how its first line starts. */
interface Claim {
  readonly file: string;
  readonly lang: string;
  readonly firstLine: string;
}

const claims: Claim[] = [];

function claimsBlock(claim: Claim, block: Block): boolean {
  return (
    block.file === claim.file && block.lang === claim.lang && block.firstLine.startsWith(claim.firstLine)
  );
}

/** Claims one block for the check that runs it; the block itself is looked up when the check runs. */
function sample(file: string, lang: string, firstLine: string): () => Block {
  const claim = { file, lang, firstLine };
  claims.push(claim);
  return () => {
    const found = BLOCKS.filter((block) => claimsBlock(claim, block));
    if (found.length !== 1) {
      throw new Error(
        `${file}: ${found.length} ${lang || 'unlabelled'} blocks start with "${firstLine}", not 1`,
      );
    }
    return found[0]!;
  };
}

const where = (block: Block): string => `${block.file}:${block.line}`;
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const indent = (text: string, by: string): string =>
  text
    .split('\n')
    .map((line) => (line === '' ? line : by + line))
    .join('\n');
const secret = (): string => randomBytes(32).toString('base64url');

/** What the `env:` references of the samples name, set for the checks (never the process's own). */
const ENV: Record<string, string> = {
  GATEHOUSE_ADMIN_TOKEN: secret(),
  GATEHOUSE_SCRAPE_TOKEN: secret(),
  GATEHOUSE_ALERT_SECRET: secret(),
  REPORTING_SECRET: secret(),
  NOTES_JWT_SECRET: secret(),
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATABASE_URL: 'postgres://gatehouse@127.0.0.1:5432/gatehouse',
};

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-docs-samples-'));
});
afterAll(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('the fenced blocks of the README and docs/', () => {
  it('are found: the guard that keeps the claim check below from passing on nothing', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(20);
    for (const file of ['README.md', 'docs/configuration.md', 'docs/existing-apis.md', 'docs/monitoring.md'])
      expect(BLOCKS.some((block) => block.file === file)).toBe(true);
  });

  it('are each claimed by exactly one check, and each check claims exactly one block', () => {
    const problems: string[] = [];
    for (const block of BLOCKS) {
      const count = claims.filter((claim) => claimsBlock(claim, block)).length;
      if (count !== 1) {
        const lang = block.lang === '' ? 'unlabelled' : block.lang;
        problems.push(`${where(block)}: the ${lang} block "${block.firstLine}" is run by ${count} checks`);
      }
    }
    for (const claim of claims) {
      const count = BLOCKS.filter((block) => claimsBlock(claim, block)).length;
      if (count !== 1)
        problems.push(`${claim.file}: the check of "${claim.firstLine}" finds ${count} blocks`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Configuration samples: the real loader (what `gatehouse check-config` runs), then what `start`
// compiles from the result (compileEffectivePolicy), each fragment in its place in a whole file.

interface Loaded {
  readonly issues: readonly string[];
  readonly config: GatehouseConfig | null;
  readonly policy: EffectivePolicy | null;
}

async function loadConfigText(dir: string, name: string, text: string): Promise<Loaded> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const { config, issues } = await checkConfig(file, ENV);
  const policy = config === null ? null : await compileEffectivePolicy(config);
  return { issues: issues.map(formatIssue), config, policy };
}

const fileFor = (block: Block, suffix = 'yaml'): string =>
  `${path.basename(block.file, '.md')}-${block.line}.${suffix}`;

/** The configuration loads without an issue, and what start compiles from it has no problem. */
async function expectLoads(
  block: Block,
  dir: string,
  text: string,
): Promise<{ config: GatehouseConfig; policy: EffectivePolicy }> {
  const loaded = await loadConfigText(dir, fileFor(block), text);
  expect(loaded.issues, where(block)).toEqual([]);
  expect(loaded.policy?.problems, where(block)).toEqual([]);
  return { config: loaded.config!, policy: loaded.policy! };
}

/** Each option the sample shows commented out is a key the schema knows, once written in. */
async function expectCommentedKeysKnown(
  block: Block,
  dir: string,
  toFile: (text: string) => string,
): Promise<void> {
  for (const variant of commentedVariants(block.text)) {
    const loaded = await loadConfigText(dir, fileFor(block, 'variant.yaml'), toFile(variant.text));
    const unknown = loaded.issues.filter((issue) => issue.includes('unknown key'));
    expect(unknown, `${where(block)}, with "${variant.line}" written in`).toEqual([]);
  }
}

/** `value` without the key at each dotted path (`auth.issuers.0.clockSkewSec`); each must be there. */
function without(block: Block, value: unknown, paths: readonly string[]): unknown {
  const copy = structuredClone(value);
  for (const dotted of paths) {
    const keys = dotted.split('.');
    const last = keys.pop()!;
    const parent = keys.reduce<unknown>(
      (node, key) => (node as Record<string, unknown> | undefined)?.[key],
      copy,
    );
    expect(Object.hasOwn(Object(parent), last), `${where(block)} writes ${dotted}`).toBe(true);
    delete (parent as Record<string, unknown>)[last];
  }
  return copy;
}

/**
 * Where a sample says "defaults shown", the settings it shows as defaults are the defaults:
 * left out of the file, they change nothing in the configuration the loader makes.
 */
async function expectDefaultsShown(
  block: Block,
  dir: string,
  toFile: (text: string) => string,
  paths: readonly string[],
): Promise<void> {
  const written = await loadConfigText(dir, fileFor(block, 'written.yaml'), toFile(block.text));
  const leftOut = stringify(without(block, parse(block.text), paths));
  const defaulted = await loadConfigText(dir, fileFor(block, 'defaulted.yaml'), toFile(leftOut));
  expect(written.config, where(block)).not.toBeNull();
  expect(defaulted.issues, where(block)).toEqual([]);
  expect(written.config, `${where(block)}: the defaults it shows`).toEqual(defaulted.config);
}

describe('the configuration samples, loaded by the real loader', () => {
  const listeners = sample('docs/configuration.md', 'yaml', 'stateDir:');
  const keysAndAdmin = sample('docs/configuration.md', 'yaml', 'keys:');
  const auth = sample('docs/configuration.md', 'yaml', 'auth:');
  const limits = sample('docs/configuration.md', 'yaml', 'redis:');
  const validation = sample('docs/configuration.md', 'yaml', 'apis:');
  const monitoring = sample('docs/monitoring.md', 'yaml', 'monitoring:');

  let dir: string;
  let minimal: unknown;
  const inMinimal = (text: string): string => stringify(mergeFragment(minimal, parse(text)));
  const asWritten = (text: string): string => text;

  beforeAll(async () => {
    dir = path.join(scratch, 'config');
    await mkdir(path.join(dir, 'state'), { recursive: true });
    const document = 'openapi: 3.1.0\ninfo: { title: a sample, version: "1" }\npaths: {}\n';
    for (const name of ['openapi.yaml', 'catalog.openapi.yaml'])
      await writeFile(path.join(dir, name), document);
    // The CA files the samples name: real certificates, made now.
    const { cert } = await makeIdentity('docs sample CA');
    for (const name of ['issuer-ca.pem', 'alerts-ca.pem']) await writeFile(path.join(dir, name), cert);
    minimal = parse(minimalYaml);
  });

  it('docs/configuration.md, listeners, limits, APIs and the log: a whole file that loads; its limits are the defaults', async () => {
    const block = listeners();
    const { config } = await expectLoads(block, dir, block.text);
    expect(config.apis.map((api) => api.name)).toEqual(['catalog']);
    await expectDefaultsShown(block, dir, asWritten, ['limits']);
    await expectCommentedKeysKnown(block, dir, asWritten);
  });

  it('docs/configuration.md, API keys and the admin listener: loads in a minimal file; the defaults it shows are the defaults', async () => {
    const block = keysAndAdmin();
    await expectLoads(block, dir, inMinimal(block.text));
    await expectDefaultsShown(block, dir, inMinimal, [
      'keys.sync.pollMs',
      'keys.lastUsedFlushMs',
      'admin.host',
      'admin.port',
    ]);
    await expectCommentedKeysKnown(block, dir, inMinimal);
  });

  it('docs/configuration.md, authentication: loads in a minimal file; the defaults it shows are the defaults', async () => {
    const block = auth();
    const { config } = await expectLoads(block, dir, inMinimal(block.text));
    expect(config.auth.issuers).toHaveLength(1);
    expect(config.auth.tokenEndpoint.clients).toHaveLength(1);
    await expectDefaultsShown(block, dir, inMinimal, [
      'auth.realm',
      'auth.issuer',
      'auth.signingKeyRotation',
      'auth.maxTokenBytes',
      'auth.verifiedTokenCacheSize',
      'auth.issuers.0.jwksTimeoutMs',
      'auth.issuers.0.jwksCooldownSec',
      'auth.issuers.0.jwksMaxAgeSec',
      'auth.issuers.0.requiredClaims',
      'auth.issuers.0.clockSkewSec',
      'auth.issuers.0.scopeClaim',
      'auth.issuers.0.rolesClaim',
      'auth.issuers.0.consumerClaim',
      'auth.tokenEndpoint.enabled',
      'auth.tokenEndpoint.basePath',
      'auth.tokenEndpoint.audience',
      'auth.tokenEndpoint.lifetimeSec',
      'auth.tokenEndpoint.apiKeyHeader',
      'auth.identity',
    ]);
    await expectCommentedKeysKnown(block, dir, inMinimal);
  });

  it('docs/configuration.md, rate limits, pre-auth limits and concurrency: loads in a minimal file; the defaults it shows are the defaults', async () => {
    const block = limits();
    const { config } = await expectLoads(block, dir, inMinimal(block.text));
    const written = parse(block.text) as { rateLimits: { policies: object } };
    expect(Object.keys(config.rateLimits.policies)).toEqual(Object.keys(written.rateLimits.policies));
    await expectDefaultsShown(block, dir, inMinimal, [
      'redis.timeoutMs',
      'redis.keyPrefix',
      'redis.breaker',
      'rateLimits.replicas',
      'rateLimits.maxKeys',
      'rateLimits.maxDelayed',
      'preAuthLimit',
      'concurrency',
    ]);
    await expectCommentedKeysKnown(block, dir, inMinimal);
  });

  it('docs/configuration.md, validation, the response contract and CORS: loads in a minimal file; the defaults it shows are the defaults', async () => {
    const block = validation();
    const { config } = await expectLoads(block, dir, inMinimal(block.text));
    expect(config.apis[0]!.responseContract).toBe('strip');
    await expectDefaultsShown(block, dir, inMinimal, [
      'validation',
      'cors.allowCredentials',
      'cors.allowedHeaders',
      'cors.exposedHeaders',
      'cors.maxAgeSeconds',
    ]);
    await expectCommentedKeysKnown(block, dir, inMinimal);
  });

  it('docs/monitoring.md, the monitoring section: loads in a minimal file; the defaults it shows are the defaults', async () => {
    const block = monitoring();
    // `<stateDir>` stands for the state folder: the minimal file's is the default, `.gatehouse`.
    expect(block.text).toContain('<stateDir>/');
    const inPlace = (text: string): string =>
      inMinimal(text.replace('<stateDir>/', `${configDefaults.stateDir}/`));
    const { config } = await expectLoads(block, dir, inPlace(block.text));
    expect(config.monitoring.alerts).not.toBeNull();
    await expectDefaultsShown(block, dir, inPlace, [
      'monitoring.enabled',
      'monitoring.events',
      'monitoring.probeInterval',
      'monitoring.detectors',
      'monitoring.alerts.webhook.timeout',
      'monitoring.alerts.webhook.retries',
      'monitoring.alerts.webhook.maxPerMinute',
      'monitoring.alerts.webhook.dedup',
    ]);
    await expectCommentedKeysKnown(block, dir, inPlace);
  });

  it('refuses a sample with a misspelt key, and a misspelt key shown commented out: a sample cannot pass unread', async () => {
    const block = keysAndAdmin();
    expect(block.text).toContain('lastUsedFlushMs:');
    const misspelt = await loadConfigText(
      dir,
      'misspelt.yaml',
      inMinimal(block.text.replace('lastUsedFlushMs:', 'lastUsedFlushMS:')),
    );
    expect(misspelt.config).toBeNull();
    expect(misspelt.issues.some((issue) => issue.includes('unknown key "lastUsedFlushMS"'))).toBe(true);

    const commented = listeners().text.replace('# overlays:', '# overlay:');
    const [variant] = commentedVariants(commented).filter(({ line }) => line.startsWith('overlay:'));
    expect(variant).toBeDefined();
    const loaded = await loadConfigText(dir, 'misspelt-variant.yaml', variant!.text);
    expect(loaded.issues.some((issue) => issue.includes('unknown key "overlay"'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The existing-API guide: its configuration and overlay fragments in the Notes example
// (examples/notes), the document as its vendor publishes it.

const OVERLAY_HEAD = 'overlay: 1.0.0\ninfo: { title: a sample of the docs, version: 1.0.0 }\n';

/** An overlay file made of a sample: a whole `actions:` mapping, or a list of actions. */
function overlayFile(text: string): string {
  return /^actions:/m.test(text) ? OVERLAY_HEAD + text : `${OVERLAY_HEAD}actions:\n${indent(text, '  ')}\n`;
}

interface SampleAction {
  readonly target: string;
  readonly update?: unknown;
  readonly remove?: boolean;
}

function actionsOf(text: string): SampleAction[] {
  const parsed = parse(text) as SampleAction[] | { actions: SampleAction[] };
  return Array.isArray(parsed) ? parsed : parsed.actions;
}

/** Each action took effect: an update's target now holds what it wrote, a removed target selects nothing. */
function expectActionsApplied(block: Block, document: unknown, actions: readonly SampleAction[]): void {
  expect(actions.length, where(block)).toBeGreaterThan(0);
  for (const action of actions) {
    const found: unknown[] = [];
    queryJsonPath(document as JsonValue, action.target, (value) => found.push(value));
    if (action.remove === true) {
      expect(found, `${where(block)}: ${action.target} is removed`).toEqual([]);
      continue;
    }
    expect(found.length, `${where(block)}: ${action.target} matches`).toBeGreaterThan(0);
    for (const value of found)
      expect(value, `${where(block)}: ${action.target}`).toMatchObject(action.update as object);
  }
}

/** The Notes example laid out in `dir` as in the checkout: examples/notes, its state in dir/.gatehouse. */
async function notesExample(dir: string): Promise<string> {
  const notes = path.join(dir, 'examples', 'notes');
  await mkdir(notes, { recursive: true });
  for (const name of ['openapi.yaml', 'notes.overlay.yaml', 'gatehouse.yaml'])
    await copyFile(path.join(root, 'examples', 'notes', name), path.join(notes, name));
  // A link, so that the service finds the checkout's node_modules (better-sqlite3 on Node 20).
  await symlink(path.join(root, 'examples', 'notes', 'service.mjs'), path.join(notes, 'service.mjs'));
  return notes;
}

/** The `x-gatehouse-require` conditions of a one-action sample, as the route records write them. */
function conditionsOf(block: Block): string[] {
  const update = actionsOf(block.text)[0]!.update as { 'x-gatehouse-require': Record<string, string> };
  return Object.entries(update['x-gatehouse-require']).map(([left, right]) => `${left} == ${right}`);
}

const route = (records: readonly RouteRecord[], method: string, template: string): RouteRecord => {
  const found = records.find((record) => record.method === method && record.path === template);
  if (found === undefined) throw new Error(`no route ${method} ${template}`);
  return found;
};

describe('the existing-API guide: configuration and overlay samples in the Notes example', () => {
  const issuer = sample('docs/existing-apis.md', 'yaml', 'auth:');
  const step3Overlay = sample('docs/existing-apis.md', 'yaml', '# notes.overlay.yaml');
  const step3Config = sample('docs/existing-apis.md', 'yaml', '# gatehouse.yaml');
  const ownerInPath = sample(
    'docs/existing-apis.md',
    'yaml',
    "- target: $.paths['/users/{username}/notes'].get",
  );
  const ownerInResponse = sample('docs/existing-apis.md', 'yaml', "- target: $.paths['/notes/{id}'].get");
  const usernamePattern = sample(
    'docs/existing-apis.md',
    'yaml',
    '- target: $.components.parameters.Username.schema',
  );
  const login = sample('docs/existing-apis.md', 'yaml', "- target: $.paths['/login'].post");
  const passthrough = sample('docs/existing-apis.md', 'yaml', 'apis:');

  let notes: string;
  let shipped: unknown;
  const inExample = (text: string): string => stringify(mergeFragment(shipped, parse(text)));

  beforeAll(async () => {
    notes = await notesExample(path.join(scratch, 'notes'));
    shipped = parse(read('examples/notes/gatehouse.yaml'));
    await writeFile(path.join(notes, 'step-3.overlay.yaml'), overlayFile(step3Overlay().text));
  });

  /** The example, with `overlays` instead of its own: step 3's overlay and then the sample's. */
  async function withOverlay(
    block: Block | null,
  ): Promise<{ records: RouteRecord[]; policy: EffectivePolicy }> {
    const overlays = ['./step-3.overlay.yaml'];
    if (block !== null) {
      await writeFile(path.join(notes, fileFor(block, 'overlay.yaml')), overlayFile(block.text));
      overlays.push(`./${fileFor(block, 'overlay.yaml')}`);
    }
    const text = stringify(mergeFragment(shipped, { apis: [{ name: 'notes', overlays }] }));
    const { config, policy } = await expectLoads(block ?? step3Overlay(), notes, text);
    if (block !== null) expectActionsApplied(block, policy.routes[0]!.api.document, actionsOf(block.text));
    return { records: policy.routes.map((r) => describeRoute(r, config)), policy };
  }

  it('docs/existing-apis.md, the HMAC issuer: loads in the example configuration, with the secret and the missing claims it allows', async () => {
    const block = issuer();
    const { config } = await expectLoads(block, notes, inExample(block.text));
    const [written] = (parse(block.text) as { auth: { issuers: { issuer: string; rolesClaim: string }[] } })
      .auth.issuers;
    expect(config.auth.issuers).toHaveLength(1);
    expect(config.auth.issuers[0]).toMatchObject({
      issuer: written!.issuer,
      algorithms: ['HS256'],
      allowMissing: { iss: true, aud: true },
      rolesClaim: written!.rolesClaim,
    });
    expect(config.auth.issuers[0]!.hmacSecret).not.toBeNull();
  });

  it('docs/existing-apis.md, the step 3 overlay: each target matches the vendor document, and the result compiles', async () => {
    const block = step3Overlay();
    const { records, policy } = await withOverlay(null);
    expectActionsApplied(block, policy.routes[0]!.api.document, actionsOf(block.text));
    expect(records.some((record) => record.path === '/debug/config')).toBe(false);
    expect(route(records, 'POST', '/login').security.mode).toBe('public');
    // The configuration's defaultSecurity names the scheme the overlay declares.
    expect(route(records, 'GET', '/notes/{id}').security.alternatives).toMatchObject([
      { scheme: 'notesToken', kind: 'bearer' },
    ]);
  });

  it('docs/existing-apis.md, the step 3 configuration: loads in the example, and its overlay and default security compile', async () => {
    const block = step3Config();
    const { config, policy } = await expectLoads(block, notes, inExample(block.text));
    expect(config.apis[0]).toMatchObject({
      overlays: [path.join(notes, 'notes.overlay.yaml')],
      defaultSecurity: [{ notesToken: [] }],
    });
    const records = policy.routes.map((r) => describeRoute(r, config));
    expect(route(records, 'GET', '/search').security.alternatives).toMatchObject([{ scheme: 'notesToken' }]);
  });

  it('docs/existing-apis.md, the owner in the path: the target matches, and the condition compiles', async () => {
    const block = ownerInPath();
    const { records } = await withOverlay(block);
    expect(route(records, 'GET', '/users/{username}/notes').conditions).toEqual(conditionsOf(block));
  });

  it('docs/existing-apis.md, the owner in the answer: the target matches, and the condition compiles', async () => {
    const block = ownerInResponse();
    const { records } = await withOverlay(block);
    expect(route(records, 'GET', '/notes/{id}').responseConditions).toEqual(conditionsOf(block));
  });

  it('docs/existing-apis.md, the username pattern: the target matches, and the path parameter takes the pattern', async () => {
    const block = usernamePattern();
    const { policy } = await withOverlay(block);
    const user = policy.routes.find((r) => r.operation.template === '/users/{username}')!;
    const parameter = user.operation.parameters.find((p) => p.name === 'username');
    expect(parameter?.schema).toMatchObject(actionsOf(block.text)[0]!.update as object);
  });

  it('docs/existing-apis.md, logins that fail with 200: the target matches, the login tests compile, and so do the ones commented out', async () => {
    const block = login();
    const { records } = await withOverlay(block);
    expect(route(records, 'POST', '/login').preAuth.login).toMatchObject({ usernameField: 'username' });
    expect(route(records, 'POST', '/login').preAuth.login?.failedWhen).toHaveLength(1);
    const variants = commentedVariants(block.text);
    expect(variants).toHaveLength(2);
    for (const variant of variants) {
      const { records: more } = await withOverlay({ ...block, text: variant.text });
      expect(route(more, 'POST', '/login').preAuth.login?.failedWhen).toHaveLength(2);
    }
  });

  it('docs/existing-apis.md, credential passthrough: loads in the example, and the verified token goes on', async () => {
    const block = passthrough();
    const { config, policy } = await expectLoads(block, notes, inExample(block.text));
    expect(config.apis[0]!.forwardCredentials).toBe(true);
    const records = policy.routes.map((r) => describeRoute(r, config));
    expect(route(records, 'GET', '/notes/{id}').forwardCredentials).toEqual(['authorization']);
  });
});

// ---------------------------------------------------------------------------------------------
// docs/authentication.md: the `paths:` sample, applied to a small document by the overlay code.

const ACCOUNTS_DOCUMENT = `openapi: 3.1.0
info: { title: accounts, version: 1.0.0 }
security: [ { apiKey: [] } ]
components:
  securitySchemes:
    apiKey: { type: apiKey, in: header, name: X-API-Key }
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://login.example.com/oauth/token
          scopes: { accounts:read: read accounts }
paths:
  /accounts/{id}:
    get:
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
        - { name: x-tenant, in: header, schema: { type: string } }
      responses: { '200': { description: an account } }
  /notes/{id}:
    get:
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200':
          description: a note
          content: { application/json: { schema: { type: object, properties: { owner: { type: string } } } } }
  /login:
    post:
      responses: { '200': { description: logged in } }
`;

describe('the authorization sample of docs/authentication.md, applied to a document', () => {
  const paths = sample('docs/authentication.md', 'yaml', 'paths:');

  it('merges into the operations it names, and compiles into the scopes, roles and conditions it describes', async () => {
    const block = paths();
    const dir = path.join(scratch, 'accounts');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'accounts.openapi.yaml'), ACCOUNTS_DOCUMENT);
    // Every operation the sample names exists already: the sample adds policy, never an operation.
    const written = parse(block.text) as { paths: Record<string, Record<string, unknown>> };
    const document = parse(ACCOUNTS_DOCUMENT) as typeof written;
    for (const [template, item] of Object.entries(written.paths))
      for (const method of Object.keys(item))
        expect(document.paths[template]?.[method], template).toBeDefined();
    const overlay = `${OVERLAY_HEAD}actions:\n  - target: $\n    update:\n${indent(block.text, '      ')}\n`;
    await writeFile(path.join(dir, 'paths.overlay.yaml'), overlay);
    const config = stringify(
      mergeFragment(parse(minimalYaml), {
        apis: [{ name: 'bank', openapi: './accounts.openapi.yaml', overlays: ['./paths.overlay.yaml'] }],
      }),
    );
    const loaded = await expectLoads(block, dir, config);
    const records = loaded.policy.routes.map((r) => describeRoute(r, loaded.config));
    for (const [template, item] of Object.entries(written.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const record = route(records, method.toUpperCase(), template);
        expect(record, `${method} ${template}`).toMatchObject(policyOf(operation as SampleOperation));
      }
    }
  });
});

interface SampleOperation {
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly 'x-gatehouse-scopes'?: readonly string[];
  readonly 'x-gatehouse-require'?: Record<string, string | readonly string[]>;
  readonly 'x-gatehouse-public'?: boolean;
}

/**
 * What docs/authentication.md says an operation's marks compile into: OAuth2 scopes from the
 * requirement, x-gatehouse-scopes for the other schemes; `roles` any one of them; conditions on
 * the request, and `response.` conditions on the response; public when x-gatehouse-public.
 */
function policyOf(operation: SampleOperation): Record<string, unknown> {
  const { roles, ...conditions } = operation['x-gatehouse-require'] ?? {};
  const written = Object.entries(conditions).map(([left, right]) => `${left} == ${String(right)}`);
  const expected: Record<string, unknown> = {
    roles: roles ?? null,
    conditions: written.filter((condition) => !condition.startsWith('response.')),
    responseConditions: written.filter((condition) => condition.startsWith('response.')),
  };
  if (operation['x-gatehouse-public'] === true) expected.security = { mode: 'public' };
  if (operation.security !== undefined) {
    const alternatives = operation.security.map((requirement) => {
      const [scheme, scopes] = Object.entries(requirement)[0]!;
      return { scheme, scopes: scopes.length > 0 ? scopes : (operation['x-gatehouse-scopes'] ?? []) };
    });
    expected.security = { mode: 'credential', alternatives };
  }
  return expected;
}

describe('the x-gatehouse marks of the samples', () => {
  it('are each one the gateway reads on an operation (the marks it refuses any other of)', () => {
    expect(OPERATION_MARKS.has('x-gatehouse-require')).toBe(true);
    const unknown = BLOCKS.flatMap((block) =>
      (block.text.match(/x-gatehouse-[a-z-]*[a-z]/g) ?? [])
        .filter((mark) => !OPERATION_MARKS.has(mark))
        .map((mark) => `${where(block)}: ${mark}`),
    );
    expect(unknown).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// docs/authentication.md: the upstream's verification sample, run as a module beside
// verify-identity.ts, on an assertion the gateway's own signer made.

describe('the identity verification sample of docs/authentication.md', () => {
  const verification = sample('docs/authentication.md', 'ts', 'import { createIdentityVerifier }');
  let ring: SigningKeyRing;
  let assertions: IdentityAssertions;
  const alice = examplePrincipal();

  beforeAll(async () => {
    const dir = path.join(scratch, 'identity');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'gatehouse.yaml'), minimalYaml);
    await writeFile(
      path.join(dir, 'openapi.yaml'),
      'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n',
    );
    const { config } = await checkConfig(path.join(dir, 'gatehouse.yaml'), {});
    // As buildAuth makes them: the generated signing key in stateDir, the default identity settings.
    ring = await loadSigningKeyRing(
      config!.auth.signingKeys,
      config!.stateDir,
      rotationTimingOf(config!.auth),
    );
    assertions = new IdentityAssertions(config!.auth.identity, config!.auth.issuer, ring);
  });
  afterAll(() => ring?.close());

  /** The sample as a module beside verify-identity.ts, given the JWKS and a request with `header`. */
  async function runSample(header: string): Promise<unknown> {
    const dir = await mkdtemp(path.join(scratch, 'ts-sample-'));
    const verifier = path.join(root, 'src', 'auth', 'assertion', 'verify-identity.ts');
    await symlink(verifier, path.join(dir, 'verify-identity.ts'));
    await writeFile(
      path.join(dir, 'inputs.ts'),
      `export const gatewayJwks = ${ring.jwksJson};\n` +
        `export const req = { headers: { 'gatehouse-identity': ${JSON.stringify(header)} } };\n`,
    );
    const module = `import { gatewayJwks, req } from './inputs.js';\n${verification().text}\nexport { caller };\n`;
    await writeFile(path.join(dir, 'sample.ts'), module);
    const loaded = (await import(/* @vite-ignore */ path.join(dir, 'sample.ts'))) as { caller: unknown };
    return loaded.caller;
  }

  it('gives the caller of an assertion the gateway signed', async () => {
    const [name, value] = assertions.headerFor(alice, 'bank', 'request-1', Date.now());
    expect(name).toBe('gatehouse-identity');
    expect(await runSample(value!)).toMatchObject({
      subject: 'alice',
      consumer: 'mobile-app',
      scopes: ['accounts:read', 'transfers:write'],
      roles: ['customer'],
      credential: { kind: 'api-key', id: '0123456789abcdef', issuer: null },
    });
  });

  it('throws IdentityRefused for a tampered assertion', async () => {
    const [, value] = assertions.headerFor(alice, 'bank', 'request-2', Date.now());
    const [head, payload, signature] = value!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');
    const refused = await runSample(`${head}.${forged}.${signature}`).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(IdentityRefused);
    expect(refused).toMatchObject({ code: 'invalid' });
  });
});

// ---------------------------------------------------------------------------------------------
// The shell samples, run against dist/cli.js (`gatehouse` and `npx gatehouse` stand for it).

const KEY = /gk_(?:live|test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/g;

/** `90d`, `24h`: what the samples' --expires and --overlap take. */
function durationMs(text: string): number {
  const [, count, unit] = /^(\d+)([smhd])$/.exec(text) ?? [];
  const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 's' | 'm' | 'h' | 'd'];
  expect(unitMs, `a duration: ${text}`).toBeDefined();
  return Number(count) * unitMs;
}

interface KeyRecord {
  readonly id: string;
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly env: string;
  readonly status: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly replacedBy: string | null;
}

/** The value of `--name value` in a sample command. */
function option(command: string, name: string): string {
  const value = new RegExp(`--${name} (\\S+)`).exec(command)?.[1];
  if (value === undefined) throw new Error(`no --${name} in: ${command}`);
  return value;
}

const jsonLines = <T>(text: string): T[] =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);

describe('the key commands of docs/authentication.md, on a real key store', () => {
  const keyCommands = sample('docs/authentication.md', 'sh', 'gatehouse keys create');
  let dir: string;
  const run = (command: string) => runShell(forThisCheckout(command), { cwd: dir, env: process.env });
  const commands = () => {
    const [create, list, revoke, rotate, ...rest] = shellCommands(keyCommands().text);
    expect(rest).toEqual([]);
    return { create: create!, list: list!, revoke: revoke!, rotate: rotate! };
  };
  const made: { withOptions: KeyRecord | null; bare: string | null } = { withOptions: null, bare: null };

  beforeAll(async () => {
    dir = path.join(scratch, 'keys');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'gatehouse.yaml'), `stateDir: ./state\n${minimalYaml}`);
    await writeFile(
      path.join(dir, 'openapi.yaml'),
      'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n',
    );
  });

  it('create makes a key with every optional part and with none; list shows both, and never a key', async () => {
    const { create, list } = commands();
    const consumer = option(create, 'consumer');
    const [withOptions, bare] = optionalForms(create);
    const [created, plain] = await Promise.all([run(withOptions!), run(bare!)]);
    expect(created.code, created.stderr).toBe(0);
    const first = JSON.parse(created.stdout) as { key: string; record: KeyRecord };
    expect(first.key).toMatch(new RegExp(`^gk_${option(withOptions!, 'env')}_`));
    expect(first.record).toMatchObject({ consumer, scopes: option(create, 'scopes').split(',') });
    expect(first.record.expiresAt! - first.record.createdAt).toBe(durationMs(option(create, 'expires')));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.match(KEY)).toHaveLength(1);
    const createdLine = new RegExp(`Created API key ([0-9a-f]{16}) for ${consumer} \\(env live; `);
    made.withOptions = first.record;
    made.bare = createdLine.exec(plain.stdout)?.[1] ?? null;
    expect(made.bare).not.toBeNull();

    const [listedJson, listedTable] = await Promise.all(optionalForms(list).map(run));
    for (const listed of [listedJson!, listedTable!]) {
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).not.toMatch(/gk_(?:live|test)_/);
    }
    const ids = jsonLines<KeyRecord>(listedJson!.stdout).map((record) => record.id);
    expect(ids.sort()).toEqual([first.record.id, made.bare].sort());
    expect(listedTable!.stdout.split('\n')[0]).toMatch(/^ID\tENV\tSTATE\tCONSUMER\t/);
  });

  it('revoke and rotate take a key id where the sample shows one, and the store says so', async () => {
    const { list, revoke, rotate } = commands();
    // The sample's id stands for a key of the reader's: the first key is revoked, the second
    // rotated (a revoked key cannot be).
    const sampleId = /\b[0-9a-f]{16}\b/.exec(revoke)![0];
    expect(rotate).toContain(sampleId);
    const [revokedId, rotatedId] = [made.withOptions!.id, made.bare!];
    const revoked = await run(revoke.replace(sampleId, revokedId));
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked key ${revokedId}`);
    const rotated = await run(rotate.replace(sampleId, rotatedId));
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout.match(KEY)).toHaveLength(1);
    const until = new RegExp(`The old key ${rotatedId} keeps working until (\\S+?)[.,\\s]`).exec(
      rotated.stdout,
    );
    const overlap = durationMs(option(rotate, 'overlap'));
    expect(Math.abs(Date.parse(until![1]!) - Date.now() - overlap)).toBeLessThan(60_000);

    const records = jsonLines<KeyRecord>((await run(optionalForms(list)[0]!)).stdout);
    expect(records.find((r) => r.id === revokedId)).toMatchObject({ status: 'revoked' });
    expect(records.find((r) => r.id === rotatedId)?.replacedBy).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('the commands of docs/existing-apis.md', () => {
  const init = sample('docs/existing-apis.md', 'sh', 'npx gatehouse init');
  const routes = sample('docs/existing-apis.md', 'sh', 'npx gatehouse routes');
  const checkAndRun = sample('docs/existing-apis.md', 'sh', 'NOTES_JWT_SECRET=');
  let initDir: string;
  // The operations of the Notes document, which init and routes list.
  const document = parse(read('examples/notes/openapi.yaml')) as { paths: Record<string, object> };
  const operationCount = Object.values(document.paths).flatMap((item) =>
    Object.keys(item).filter((key) => key !== 'parameters'),
  ).length;

  it('init writes a configuration and an overlay with one empty action per operation', async () => {
    initDir = path.join(scratch, 'init');
    await mkdir(initDir, { recursive: true });
    await copyFile(path.join(root, 'examples', 'notes', 'openapi.yaml'), path.join(initDir, 'openapi.yaml'));
    const [command, ...rest] = shellCommands(init().text);
    expect(rest).toEqual([]);
    const result = await runShell(forThisCheckout(command!), { cwd: initDir, env: process.env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const configText = await readFile(path.join(initDir, 'gatehouse', 'gatehouse.yaml'), 'utf8');
    // "with the warnings as comments"
    expect(result.stdout).toMatch(/^warning: /m);
    expect(configText).toMatch(/^# warning: /m);
    const config = parse(configText) as {
      apis: { name: string; overlays: string[]; upstream: { url: string } }[];
    };
    const name = option(command!, 'name');
    expect(config.apis).toMatchObject([
      { name, overlays: [`./${name}.overlay.yaml`], upstream: { url: option(command!, 'upstream') } },
    ]);
    const overlayText = await readFile(path.join(initDir, 'gatehouse', `${name}.overlay.yaml`), 'utf8');
    const overlay = parse(overlayText) as { actions: SampleAction[] };
    expect(overlay.actions).toHaveLength(operationCount);
    for (const action of overlay.actions) expect(action.update).toEqual({});
  });

  it('routes shows what is enforced, as a table and, with --json, for tools', async () => {
    const [command, ...rest] = shellCommands(routes().text);
    expect(rest).toEqual([]);
    expect(command).toContain('--json for tools');
    const asJson = command!.replace(/\s+#.*$/, ' --json');
    const [table, json] = await Promise.all(
      [command!, asJson].map((c) => runShell(forThisCheckout(c), { cwd: initDir, env: process.env })),
    );
    expect(table!.code, table!.stderr).toBe(0);
    expect(table!.stdout.split('\n')[0]).toMatch(/^API\s+METHOD\s+PATH\s+OPERATION\s+SECURITY/);
    expect(json!.code, json!.stderr).toBe(0);
    const records = JSON.parse(json!.stdout) as RouteRecord[];
    expect(records).toHaveLength(operationCount);
    // Default deny stays until the overlay opens an operation.
    for (const record of records) expect(record.security.mode).toBe('deny');
  });

  it('check and run: the service starts, check-config passes with its four warnings, start serves the service', async () => {
    const [service, check, start, ...rest] = shellCommands(checkAndRun().text);
    expect(rest).toEqual([]);
    const dir = path.join(scratch, 'run');
    const notes = await notesExample(dir);
    const jwtSecret = secret();
    const written = (command: string): string => forThisCheckout(command.replaceAll('…', jwtSecret));
    // The service's default port (8081) may be taken on a shared machine: PORT, its documented
    // override, gives it a free one.
    const upstream = startBackground(written(service!), { cwd: dir, env: { ...process.env, PORT: '0' } });
    try {
      const [, serviceUrl] = await upstream.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 15_000);

      const checked = await runShell(written(check!), { cwd: dir, env: process.env });
      expect(checked.code, checked.stdout + checked.stderr).toBe(0);
      expect(checked.stdout).toContain('examples/notes/gatehouse.yaml: configuration is valid');
      const warnings = checked.stdout.split('\n').filter((line) => line.startsWith('warning:'));
      const named = [/shared secret/, /without iss/, /without aud/, /plain http:\/\//];
      expect(warnings).toHaveLength(named.length);
      for (const [i, subject] of named.entries()) expect(warnings[i]).toMatch(subject);

      // The example listens on 8443, the demo's port, which test/e2e/demo.test.ts takes: the
      // copy gets a free port and the service's address; the command is run as written.
      const file = path.join(notes, 'gatehouse.yaml');
      const shippedText = await readFile(file, 'utf8');
      const local = shippedText
        .replace('port: 8443', 'port: 0')
        .replace('url: http://127.0.0.1:8081', `url: ${serviceUrl}`);
      expect(local).not.toBe(shippedText);
      await writeFile(file, local);
      const ca = path.join(dir, '.gatehouse', 'notes', 'certs', 'ca.crt');
      const served = await statusesThrough(written(start!), dir, ca, ['/health', '/debug/config']);
      expect(served).toEqual({ statuses: [200, 404], exitCode: 0 });
    } finally {
      await upstream.stop();
    }
  });
});

/**
 * Starts a `gatehouse start` command, GETs each target through it once it listens, and stops it
 * (SIGTERM, as a service manager does): the statuses, and the exit code.
 */
async function statusesThrough(
  command: string,
  cwd: string,
  caFile: string,
  targets: readonly string[],
): Promise<{ statuses: number[]; exitCode: number | null }> {
  const gateway = startBackground(command, { cwd, env: process.env });
  const statuses: number[] = [];
  let failure: unknown = null;
  try {
    const listening = /"msg":"listening","listener":"public","url":"([^"]+)"/;
    const [, url] = await gateway.waitFor(listening, 30_000);
    const agent = new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
    try {
      for (const target of targets) statuses.push((await fetchResponse(agent, url + target, {})).status);
    } finally {
      await agent.close();
    }
  } catch (err) {
    failure = err;
  }
  const exitCode = await gateway.stop();
  if (failure !== null) throw failure;
  return { statuses, exitCode };
}

// ---------------------------------------------------------------------------------------------
// docs/monitoring.md: the admin curl lines and the alert payload, against a gateway on 127.0.0.1
// with an admin listener and a webhook receiver, after a real failed-login flood.

const ADMIN_TOKEN = secret();
const ALERT_SECRET = secret();

const LOGIN_API = `openapi: 3.1.0
info: { title: logins, version: 1.0.0 }
paths:
${LOGIN_PATH_YAML}`;

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the monitoring samples of docs/monitoring.md, against a running gateway', () => {
  const adminLines = sample('docs/monitoring.md', 'sh', 'curl -s --cacert .gatehouse/certs/ca.crt');
  const alertPayload = sample('docs/monitoring.md', 'json', '{ "detector": "failed-logins-per-address"');
  let h: Harness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    // The harness loads its configuration in this process: the env: references resolve here.
    process.env.GH_DOCS_SAMPLES_ADMIN_TOKEN = ADMIN_TOKEN;
    process.env.GH_DOCS_SAMPLES_ALERT_SECRET = ALERT_SECRET;
    receiver = await startReceiver();
    h = await startHarness({
      openapi: LOGIN_API,
      extraYaml:
        'admin:\n  port: 0\n  token: env:GH_DOCS_SAMPLES_ADMIN_TOKEN\n' +
        'monitoring:\n' +
        '  detectors:\n' +
        '    failedLoginsPerAddress: { actions: [ban, alert] }\n' +
        '  alerts:\n' +
        `    webhook: { url: "${receiver.url}", secret: env:GH_DOCS_SAMPLES_ALERT_SECRET }\n` +
        // Room for the whole flood: the login limits and backoff would otherwise slow it down.
        'preAuthLimit:\n  login:\n    perAddress: { limit: 100, window: 1m, burst: 100 }\n' +
        '    perUsername: { limit: 100, window: 1m, burst: 100 }\n' +
        '    backoff: { freeFailures: 100, initialDelay: 1s, maxDelay: 1s, forgetAfter: 1m }\n',
    });
    // The samples' CA path: the state folder of the demo is `.gatehouse`, the harness's `state`.
    await symlink('state', path.join(h.dir, '.gatehouse'));
    const threshold = configDefaults.monitoring.detectors.failedLoginsPerAddress.threshold;
    for (let i = 0; i < threshold; i += 1) {
      const body = JSON.stringify({ username: 'bob', password: `wrong-${i}` });
      const response = await h.get('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(response.status).toBe(401);
    }
    for (let i = 0; i < 100 && receiver.received.length === 0; i += 1)
      await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    delete process.env.GH_DOCS_SAMPLES_ADMIN_TOKEN;
    delete process.env.GH_DOCS_SAMPLES_ALERT_SECRET;
  });

  it('the alert payload has the keys, in order, of the alert the gateway sent, and its values for the same detection', () => {
    const documented = JSON.parse(alertPayload().text) as Record<string, unknown>;
    expect(receiver.received).toHaveLength(1);
    const [alert] = receiver.received;
    const sent = JSON.parse(alert!.body) as Record<string, unknown>;
    expect(Object.keys(sent)).toEqual(Object.keys(documented));
    for (const key of Object.keys(documented)) expect(typeof sent[key], key).toBe(typeof documented[key]);
    for (const key of ['detector', 'subjectKind', 'count', 'threshold', 'windowMs'])
      expect(sent[key], key).toEqual(documented[key]);
    expect(sent.subject).toBe('127.0.0.1');
    expect(new Date(sent.time as string).toISOString()).toBe(sent.time);
    // The signature as the text under the sample describes it.
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(alert!.headers['gatehouse-signature']));
    const expected = createHmac('sha256', ALERT_SECRET)
      .update(`${signature?.[1]}.${alert!.body}`)
      .digest('hex');
    expect(signature?.[2]).toBe(expected);
  });

  it('the admin curl lines read the detections and set a ban, on the admin listener', async () => {
    const port = h.gateway.adminAddress!.port;
    // The demo's admin port (9443) is test/e2e/demo.test.ts's: this admin listener has its own.
    const local = (command: string): string => command.replaceAll('127.0.0.1:9443', `127.0.0.1:${port}`);
    const [events, ban, ...rest] = shellCommands(adminLines().text).map(local);
    expect(rest).toEqual([]);
    const env = { ...process.env, ADMIN: ADMIN_TOKEN };
    for (const command of [events!, ban!]) expect(command).toContain(`https://127.0.0.1:${port}/`);

    const listed = await runShell(events!, { cwd: h.dir, env, timeoutMs: 10_000 });
    expect(listed.code, listed.stderr).toBe(0);
    const found = (JSON.parse(listed.stdout) as { events: { type: string; data: { detector: string } }[] })
      .events;
    expect(found.length).toBeGreaterThan(0);
    for (const event of found) expect(event.type).toBe('detector.fired');
    expect(found.map((event) => event.data.detector)).toContain('failed-logins-per-address');

    const asked = JSON.parse(/-d '([^']+)'/.exec(ban!)![1]!) as Record<string, string>;
    const set = await runShell(ban!, { cwd: h.dir, env, timeoutMs: 10_000 });
    expect(set.code, set.stderr).toBe(0);
    const made = (JSON.parse(set.stdout) as { ban: Record<string, unknown> }).ban;
    expect(made).toMatchObject({ kind: asked.kind, value: asked.value, reason: asked.reason });
    expect(String(made.source)).toMatch(/^admin at /);
    const lasts = Date.parse(String(made.expiresAt)) - Date.parse(String(made.createdAt));
    expect(Math.abs(lasts - durationMs(asked.duration!))).toBeLessThan(2_000);
  });
});

// ---------------------------------------------------------------------------------------------
// README.md

/** The member names of the named interfaces of a TypeScript file, nested type literals included. */
function interfaceMembers(file: string, names: readonly string[]): string[] {
  const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.ES2022, true);
  const members: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertySignature(node) && ts.isIdentifier(node.name)) members.push(node.name.text);
    ts.forEachChild(node, visit);
  };
  for (const statement of source.statements)
    if (ts.isInterfaceDeclaration(statement) && names.includes(statement.name.text)) visit(statement);
  return members;
}

describe('the README samples', () => {
  const firstCommands = sample('README.md', 'sh', 'npm install && npm start');
  const credentialsShape = sample('README.md', '', '{ "gateway": URL');

  it('the first commands cannot run inside the suite: they are what package.json runs, and test/e2e/demo.test.ts runs the demo', () => {
    // `npm install && npm start` builds the project and serves on fixed ports until stopped, and
    // `npm test` runs the whole suite, this file included; the demo test runs `npm start`'s
    // second half, `node dist/cli.js demo`, and checks what it serves.
    const commands = shellCommands(firstCommands().text).map((line) => line.replace(/\s+#.*$/, ''));
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(scripts.start).toMatch(/ node dist\/cli\.js demo$/);
    expect(scripts.test).toMatch(/\bvitest run\b/);
    expect(existsSync(path.join(root, 'test', 'e2e', 'demo.test.ts'))).toBe(true);
    expect(existsSync(cli)).toBe(true);
    const demo = parse(read('examples/demo.yaml')) as { listeners: { host: string; port: number }[] };
    expect(firstCommands().text).toContain(`https://${demo.listeners[0]!.host}:${demo.listeners[0]!.port}`);
  });

  it('the credentials file shape names exactly the fields the demo writes (DemoCredentials)', () => {
    const documented = [...credentialsShape().text.matchAll(/"([A-Za-z]+)"/g)].map((m) => m[1]!);
    const written = interfaceMembers('src/demo/file-shapes.ts', ['DemoCredentials', 'DemoUser']);
    expect(written.length).toBeGreaterThan(5);
    expect([...new Set(documented)].sort()).toEqual([...new Set(written)].sort());
  });
});
