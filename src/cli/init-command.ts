import { mkdir, stat, writeFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { join, relative, resolve, sep } from 'node:path';
import { compileAuthPolicies, type AuthPolicy } from '../auth/policy/auth-policy.js';
import { checkConfig, configDefaults, formatIssue, type ApiConfig } from '../config/index.js';
import {
  compileApi,
  ContractError,
  loadOpenApiDocument,
  type CompiledApi,
  type JsonObject,
  type OpenApiDocument,
  type Operation,
} from '../contract/index.js';
import { readDocumentSource } from '../contract/document-source.js';
import { isJsonObject } from '../contract/openapi-types.js';
import { compileEffectivePolicy } from './effective-policy.js';
import { configText, operationTarget, overlayText, type InitOperation, type InitPlan } from './init-files.js';
import { declaresSecurity, securitySummary } from './route-record.js';
import { print, printError } from './output.js';

export interface InitOptions {
  readonly openapi: string;
  readonly upstream: string;
  readonly name?: string;
  readonly out: string;
  readonly force?: boolean;
}

const CONFIG_FILE = 'gatehouse.yaml';
/** The configuration schema's pattern for an API name. */
const API_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * `gatehouse init`: a starting configuration and a policy overlay for an existing service's
 * document. Nothing is written when the document cannot be read or a file exists (without
 * --force); once written, the configuration is checked as check-config checks it. Returns the
 * exit code.
 */
export async function initCommand(options: InitOptions): Promise<number> {
  const outDir = resolve(options.out);
  const documentFile = resolve(options.openapi);
  const api = await compileDocument(documentFile, options.name);
  if (typeof api === 'string') {
    printError(api);
    return 1;
  }
  const overlayFile = `${api.name}.overlay.yaml`;
  const files = { config: join(outDir, CONFIG_FILE), overlay: join(outDir, overlayFile) };
  const existing = await existingFiles([files.config, files.overlay]);
  if (existing.length > 0 && options.force !== true) {
    const verb = existing.length === 1 ? 'exists' : 'exist';
    printError(`${existing.join(' and ')} already ${verb}: nothing written; give --force to overwrite`);
    return 1;
  }
  const plan = await planFiles(api, documentFile, outDir, options.upstream, overlayFile);
  await mkdir(outDir, { recursive: true });
  // Without --force, "wx" also refuses a file that appeared since the check above.
  const flag = options.force === true ? 'w' : 'wx';
  await writeFile(files.overlay, overlayText(plan), { flag });
  await writeFile(files.config, configText(plan), { flag });
  const shown = { config: join(options.out, CONFIG_FILE), overlay: join(options.out, overlayFile) };
  print(`wrote ${shown.config}`);
  print(
    `wrote ${shown.overlay} (one action per operation, ${plan.operations.length} in all, each update: {})`,
  );
  for (const warning of plan.warnings) print(`warning: ${warning}`);
  return checkWritten(files.config, shown);
}

/** The document compiled as the configuration will name it, or what stops it, in words. */
async function compileDocument(
  documentFile: string,
  givenName: string | undefined,
): Promise<CompiledApi | string> {
  try {
    const document = await loadOpenApiDocument(documentFile);
    const name = givenName ?? nameFromTitle(document.info.title);
    if (!API_NAME.test(name)) {
      return `--name ${JSON.stringify(name)}: use 1 to 63 lowercase letters, digits or "-", starting with a letter`;
    }
    return compileApi(provisionalApi(name, documentFile), document);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    return err.message;
  }
}

/** The API as the configuration will declare it, for compiling the document before it is written. */
function provisionalApi(name: string, documentFile: string): ApiConfig {
  const upstream = configDefaults.upstream;
  return {
    name,
    openapi: documentFile,
    basePath: configDefaults.api.basePath,
    // The upstream plays no part in the operations' policies; the real URL is checked once written.
    upstream: { url: 'https://upstream.invalid', socketPath: null, tls: { dev: true }, ...upstream },
  };
}

async function planFiles(
  api: CompiledApi,
  documentFile: string,
  outDir: string,
  upstreamUrl: string,
  overlayFile: string,
): Promise<InitPlan> {
  const policies = policiesOf(api);
  const rawPaths = await rawPathsOf(documentFile);
  const operations: InitOperation[] = api.operations.map((operation) => ({
    method: operation.method,
    path: operation.template,
    operationId: operation.operationId,
    today: todayOf(operation, policies),
    target: hasOwnOperation(rawPaths, operation)
      ? operationTarget(operation.documentPath, operation.method)
      : null,
  }));
  const schemes = Object.entries(securitySchemesOf(api.document)).map(([name, scheme]) =>
    describeScheme(name, scheme),
  );
  const info = api.document.info;
  return {
    name: api.name,
    title: typeof info.title === 'string' ? info.title : api.name,
    version: typeof info.version === 'string' ? info.version : '',
    openapiPath: relativePath(outDir, documentFile),
    overlayFile,
    configFile: CONFIG_FILE,
    upstreamUrl,
    plainUpstream: URL.canParse(upstreamUrl) && new URL(upstreamUrl).protocol === 'http:',
    warnings: initWarnings(api, policies, upstreamUrl, overlayFile),
    schemes,
    operations,
  };
}

/** Each operation's policy as the document stands; a ContractError is reported by the check. */
function policiesOf(api: CompiledApi): ReadonlyMap<Operation, AuthPolicy> | ContractError {
  const options = {
    realm: configDefaults.auth.realm,
    identityHeader: configDefaults.auth.identityHeader.toLowerCase(),
    clientSecrets: false,
  };
  try {
    return compileAuthPolicies(api, options).policies;
  } catch (err) {
    if (err instanceof ContractError) return err;
    throw err;
  }
}

function todayOf(operation: Operation, policies: ReadonlyMap<Operation, AuthPolicy> | ContractError): string {
  if (policies instanceof ContractError)
    return 'unknown: the gateway refuses the document as it stands (see below)';
  const policy = policies.get(operation)!;
  const summary = securitySummary(policy, operation);
  const conditions = [...(policy.access?.conditions ?? []), ...(policy.access?.responseConditions ?? [])].map(
    (c) => c.text,
  );
  const roles = policy.access?.roles ?? null;
  const access = [...(roles === null ? [] : [`roles ${roles.join('|')}`]), ...conditions];
  const also = access.length === 0 ? '' : `, and ${access.join('; ')}`;
  switch (policy.mode) {
    case 'public':
      return summary === 'public' ? 'public today: anyone, no credential' : `public today: ${summary}`;
    case 'credential':
      return `needs ${summary}${also}`;
    case 'deny':
      return !declaresSecurity(operation)
        ? 'refused today (403): default deny, no security and not x-gatehouse-public'
        : 'refused today (403): no security scheme it names is one Gatehouse accepts';
  }
}

function initWarnings(
  api: CompiledApi,
  policies: ReadonlyMap<Operation, AuthPolicy> | ContractError,
  upstreamUrl: string,
  overlayFile: string,
): string[] {
  const warnings: string[] = [];
  const schemes = securitySchemesOf(api.document);
  if (Object.keys(schemes).length === 0) {
    warnings.push(
      `the document declares no securitySchemes: every operation is refused until the overlay (${overlayFile}) adds security or marks it public`,
    );
  } else if (!(policies instanceof ContractError)) {
    const denied = [...policies.values()].filter((policy) => policy.mode === 'deny').length;
    if (denied > 0) {
      warnings.push(
        `${denied} of ${api.operations.length} operation(s) are refused (default deny) until the overlay (${overlayFile}) gives them security or marks them public`,
      );
    }
    for (const scheme of unacceptedSchemes(api, policies)) {
      warnings.push(
        `the document's security scheme "${scheme}" is one Gatehouse does not accept (gatehouse check-config says why): an operation that offers only it is refused`,
      );
    }
  }
  warnings.push(...upstreamWarnings(upstreamUrl));
  return warnings;
}

/** Schemes operations name that their compiled policy dropped: Gatehouse never accepts them. */
function unacceptedSchemes(api: CompiledApi, policies: ReadonlyMap<Operation, AuthPolicy>): Set<string> {
  const unaccepted = new Set<string>();
  for (const operation of api.operations) {
    const policy = policies.get(operation)!;
    const accepted = new Set(policy.requirements.map((r) => r.scheme));
    // A public operation does not inherit the document's security (src/auth/policy): only its own counts.
    const own = operation.operation.security;
    const named = policy.mode === 'public' && own === undefined ? [] : operation.security;
    for (const name of named.flatMap((requirement) => Object.keys(requirement))) {
      if (!accepted.has(name)) unaccepted.add(name);
    }
  }
  return unaccepted;
}

function upstreamWarnings(upstreamUrl: string): string[] {
  let url: URL;
  try {
    url = new URL(upstreamUrl);
  } catch {
    return ['--upstream is not an absolute URL: check-config refuses it; write https://host:port'];
  }
  if (url.protocol !== 'http:') return [];
  if (!isLoopbackLiteral(url.hostname)) {
    return [
      'the upstream is plain http:// to a host that is not this one: check-config refuses it; serve the service over https, or run Gatehouse beside it and write http://127.0.0.1:PORT',
    ];
  }
  return [
    'the upstream is plain http:// (allowed to a loopback address only): requests, credentials and answers cross it unencrypted; keep Gatehouse and the service alone on the host, or serve it over https',
  ];
}

function isLoopbackLiteral(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return (isIPv4(host) && host.startsWith('127.')) || (isIPv6(host) && host === '::1');
}

/** Runs the checks of check-config on the written files; prints what they find. */
async function checkWritten(file: string, shown: { config: string; overlay: string }): Promise<number> {
  const { config, issues } = await checkConfig(file);
  for (const issue of issues) printError(formatIssue(issue));
  if (config === null) return 1;
  const { routes, problems } = await compileEffectivePolicy(config);
  for (const problem of problems) printError(problem);
  if (problems.length > 0) return 1;
  const count = (mode: AuthPolicy['mode']) => routes.filter((route) => route.policy.mode === mode).length;
  print(
    `${shown.config}: configuration is valid (${routes.length} operation(s): ${count('public')} public, ` +
      `${count('credential')} with credentials, ${count('deny')} refused by default deny)`,
  );
  print(
    `next: give each operation its policy in ${shown.overlay}, then see the result with gatehouse routes --config ${shown.config}`,
  );
  return 0;
}

/** `Notes API` → `notes-api`; `api` when the title has no usable letters. */
function nameFromTitle(title: unknown): string {
  const slug = (typeof title === 'string' ? title : '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug === '' ? 'api' : slug;
}

/** `./openapi.yaml`, `../specs/openapi.yaml`: as the configuration writes a path relative to its folder. */
function relativePath(from: string, to: string): string {
  const path = relative(from, to).split(sep).join('/');
  return path.startsWith('../') || path.startsWith('/') ? path : `./${path}`;
}

async function existingFiles(files: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    try {
      await stat(file);
      found.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return found;
}

/** The document's own `paths`, before $refs are resolved: what an overlay's targets select in. */
async function rawPathsOf(documentFile: string): Promise<JsonObject> {
  const source = await readDocumentSource(documentFile, 'OpenAPI document');
  return isJsonObject(source.value) && isJsonObject(source.value.paths) ? source.value.paths : {};
}

function hasOwnOperation(rawPaths: JsonObject, operation: Operation): boolean {
  const pathItem = rawPaths[operation.documentPath];
  return isJsonObject(pathItem) && isJsonObject(pathItem[operation.method.toLowerCase()]);
}

function securitySchemesOf(document: OpenApiDocument): JsonObject {
  const schemes = document.components?.securitySchemes;
  return isJsonObject(schemes) ? schemes : {};
}

/** `bearerAuth (http bearer)`, `apiKey (apiKey in header X-Api-Key)`. */
function describeScheme(name: string, scheme: unknown): string {
  if (!isJsonObject(scheme)) return name;
  const parts = [
    scheme.type,
    scheme.scheme,
    scheme.in === undefined ? undefined : `in ${String(scheme.in)}`,
    scheme.name,
  ];
  return `${name} (${parts.filter((p) => typeof p === 'string').join(' ')})`;
}
