import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { checkShape } from './ajv-issues.js';
import { buildConfig, buildKeysConfig, deepFreeze } from './build.js';
import { checkRules } from './checks.js';
import { resolvePath, type LoadContext } from './files.js';
import { ConfigError, IssueList, type ConfigIssue, type ConfigPath } from './issues.js';
import { loadKeysAdminSecrets, loadKeysStoreUrls } from './keys-admin.js';
import { loadLimitsRedisUrl } from './redis-secret.js';
import { loadMonitoringSecrets } from './monitoring-material.js';
import { loadAuthMaterial } from './auth-material.js';
import { loadTlsMaterial } from './tls-material.js';
import type { GatehouseConfig, KeysConfig } from './types.js';
import { parseYamlSource, type YamlSource } from './yaml-source.js';

export interface ConfigCheck {
  /** The frozen configuration, or null when the file has any issue (a store that does not answer keeps it). */
  readonly config: GatehouseConfig | null;
  /** Every problem found, in file order; empty when the configuration is valid and its stores answer. */
  readonly issues: readonly ConfigIssue[];
}

/** A store named by the configuration that does not answer, at the key that names it. */
export interface StoreProblem {
  readonly at: ConfigPath;
  readonly message: string;
  readonly hint: string;
}

export interface CheckOptions {
  /**
   * Tries the stores of a valid configuration (`gatehouse check-config`, unless --offline); what
   * it finds is reported like any issue, on the line of the key. Passed in, so that this folder
   * holds no database client.
   */
  readonly probeStores?: (config: GatehouseConfig) => Promise<readonly StoreProblem[]>;
}

/**
 * Reads, validates and resolves a configuration file, reporting every problem at once (for
 * `gatehouse check-config`). Relative paths in the file are resolved against its folder;
 * `env:NAME` secret references against `env`.
 */
export async function checkConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: CheckOptions = {},
): Promise<ConfigCheck> {
  const absolute = resolve(file);
  const source = await readSource(absolute);
  if (!('data' in source)) return { config: null, issues: [source] };

  const ctx: LoadContext = { baseDir: dirname(absolute), env };
  const issues = new IssueList((at) => source.lineOf(at));
  const shapeIsValid = checkShape(source.data, issues);
  await checkRules(source.data, ctx, issues);
  const tls = await loadTlsMaterial(source.data, ctx, issues);
  const keysAdmin = await loadKeysAdminSecrets(source.data, ctx, issues);
  const auth = await loadAuthMaterial(source.data, ctx, issues);
  const limitsRedisUrl = await loadLimitsRedisUrl(source.data, ctx, issues);
  const monitoring = await loadMonitoringSecrets(source.data, ctx, issues);
  if (!shapeIsValid || issues.size > 0) return { config: null, issues: issues.sorted() };
  const config = deepFreeze(buildConfig(source.data, tls, ctx, keysAdmin, auth, limitsRedisUrl, monitoring));
  for (const problem of (await options.probeStores?.(config)) ?? []) {
    issues.add(problem.at, problem.message, problem.hint);
  }
  return { config, issues: issues.sorted() };
}

/** The file's YAML, or why there is none (an issue for the file as a whole, or at a line). */
async function readSource(absolute: string): Promise<YamlSource | ConfigIssue> {
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const message = `cannot read the configuration file ${absolute} (${code})`;
    return { path: '', line: null, message, hint: 'check the path given with --config' };
  }
  return parseYamlSource(text);
}

/** What `gatehouse keys` and `gatehouse signing-key rotate` work with. */
export interface KeysCommandConfig {
  readonly stateDir: string;
  readonly keys: KeysConfig;
  /** `auth.signingKeys` is set: the signing keys are the operator's, not files in stateDir. */
  readonly signingKeysConfigured: boolean;
  /** `auth.signingKeyRotation.publishAheadSec`: how long a new generated key waits to sign. */
  readonly signingKeyPublishAheadSec: number;
}

/**
 * For the commands that work on the key store and the state folder: the whole file's shape is
 * checked, but only the `keys:` store URLs are read. The admin token, TLS keys and every other
 * secret those commands never use need not be at hand where they run.
 */
export async function loadKeysCommandConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KeysCommandConfig> {
  const absolute = resolve(file);
  const source = await readSource(absolute);
  if (!('data' in source)) throw new ConfigError(absolute, [source]);
  const ctx: LoadContext = { baseDir: dirname(absolute), env };
  const issues = new IssueList((at) => source.lineOf(at));
  const shapeIsValid = checkShape(source.data, issues);
  const urls = await loadKeysStoreUrls(source.data, ctx, issues);
  if (!shapeIsValid || issues.size > 0) throw new ConfigError(absolute, issues.sorted());
  const stateDir = resolvePath(ctx, source.data.stateDir);
  return deepFreeze({
    stateDir,
    keys: buildKeysConfig(source.data, stateDir, ctx, urls),
    signingKeysConfigured: (source.data.auth.signingKeys ?? []).length > 0,
    signingKeyPublishAheadSec: source.data.auth.signingKeyRotation.publishAheadSec,
  });
}

/** Like `checkConfig`, for start-up: returns the frozen configuration or throws a ConfigError listing every issue. */
export async function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatehouseConfig> {
  const { config, issues } = await checkConfig(file, env);
  if (config === null) throw new ConfigError(resolve(file), issues);
  return config;
}
