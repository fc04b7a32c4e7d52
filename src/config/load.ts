import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { checkShape } from './ajv-issues.js';
import { buildConfig, deepFreeze } from './build.js';
import { checkRules } from './checks.js';
import type { LoadContext } from './files.js';
import { ConfigError, IssueList, type ConfigIssue } from './issues.js';
import { loadKeysAdminSecrets } from './keys-admin.js';
import { loadLimitsRedisUrl } from './redis-secret.js';
import { loadMonitoringSecrets } from './monitoring-material.js';
import { loadAuthMaterial } from '../auth/config-material.js';
import { loadTlsMaterial } from './tls-material.js';
import type { GatehouseConfig } from './types.js';
import { parseYamlSource } from './yaml-source.js';

export interface ConfigCheck {
  /** The frozen configuration, or null when there is any issue. */
  readonly config: GatehouseConfig | null;
  /** Every problem found, in file order; empty when the configuration is valid. */
  readonly issues: readonly ConfigIssue[];
}

/**
 * Reads, validates and resolves a configuration file, reporting every problem at once (for
 * `gatehouse check-config`). Relative paths in the file are resolved against its folder;
 * `env:NAME` secret references against `env`.
 */
export async function checkConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigCheck> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const message = `cannot read the configuration file ${absolute} (${code})`;
    return {
      config: null,
      issues: [{ path: '', line: null, message, hint: 'check the path given with --config' }],
    };
  }
  const source = parseYamlSource(text);
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
  const built = buildConfig(source.data, tls, ctx, keysAdmin, auth, limitsRedisUrl, monitoring);
  return { config: deepFreeze(built), issues: [] };
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
