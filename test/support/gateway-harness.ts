import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { loadConfig } from '../../src/config/index.js';
import { startGatehouse, type Gatehouse } from '../../src/process/gatehouse.js';
import { createLogger } from '../../src/observe/logger.js';
import { ensureDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.js';
import { startTestUpstream, type TestUpstream } from './test-upstream.js';

export const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface Harness {
  readonly dir: string;
  readonly certs: DevCertificates;
  readonly upstream: TestUpstream;
  readonly gateway: Gatehouse;
  readonly port: number;
  readonly base: string;
  readonly agent: Agent;
  readonly logFile: string;
  get(
    pathAndQuery: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<HttpResponse>;
  close(): Promise<void>;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): unknown;
}

/** Extra YAML for `limits:` and the upstream block, as a test needs them. */
export interface HarnessOptions {
  readonly limits?: Record<string, number>;
  readonly upstream?: Record<string, number>;
  readonly upstreamUrl?: string;
  readonly slowMs?: number;
  readonly bigBytes?: number;
  /** Top-level YAML sections appended as written (e.g. `keys:` and `admin:`). */
  readonly extraYaml?: string;
  /** The OpenAPI document (YAML text) to serve instead of test/fixtures/test-api.yaml. */
  readonly openapi?: string;
  /** Keys added to the API entry, as `name: value` (e.g. `{ responseContract: 'reject' }`). */
  readonly api?: Record<string, string>;
}

/**
 * A real gateway on 127.0.0.1:0 with development certificates, in front of a real mTLS test
 * upstream, configured from a real YAML file in a temporary folder.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-test-'));
  const certs = await ensureDevCertificates(path.join(dir, 'state'));
  const upstreamOptions: { slowMs?: number; bigBytes?: number } = {};
  if (options.slowMs !== undefined) upstreamOptions.slowMs = options.slowMs;
  if (options.bigBytes !== undefined) upstreamOptions.bigBytes = options.bigBytes;
  const upstream = await startTestUpstream(certs, upstreamOptions);
  if (options.openapi === undefined)
    await copyFile(path.join(fixtures, 'test-api.yaml'), path.join(dir, 'test-api.yaml'));
  else await writeFile(path.join(dir, 'test-api.yaml'), options.openapi);
  const logFile = path.join(dir, 'access.log');
  const configFile = path.join(dir, 'gatehouse.yaml');
  await writeFile(configFile, harnessYaml(options, options.upstreamUrl ?? upstream.url, logFile));
  const config = await loadConfig(configFile);
  const gateway = await startGatehouse(config, createLogger(config.log));
  const port = gateway.addresses.get('public')!.port;
  const agent = new Agent({ connect: { ca: certs.caCert } });
  const base = `https://127.0.0.1:${port}`;
  return {
    dir,
    certs,
    upstream,
    gateway,
    port,
    base,
    agent,
    logFile,
    get: (pathAndQuery, init = {}) => fetchResponse(agent, base + pathAndQuery, init),
    async close() {
      await agent.close();
      await gateway.close(500);
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function harnessYaml(options: HarnessOptions, upstreamUrl: string, logFile: string): string {
  const block = (entries: Record<string, number> | undefined, indent: string): string =>
    Object.entries(entries ?? {})
      .map(([key, value]) => `${indent}${key}: ${value}\n`)
      .join('');
  return (
    `stateDir: ./state\n` +
    `listeners:\n  - name: public\n    host: 127.0.0.1\n    port: 0\n    tls: dev\n` +
    (options.limits === undefined ? '' : `limits:\n${block(options.limits, '  ')}`) +
    `apis:\n  - name: test\n    openapi: ./test-api.yaml\n    upstream:\n      url: ${upstreamUrl}\n      tls: dev\n` +
    block(options.upstream, '      ') +
    Object.entries(options.api ?? {})
      .map(([key, value]) => `    ${key}: ${value}\n`)
      .join('') +
    `log:\n  level: info\n  access: true\n  destination: ${logFile}\n` +
    (options.extraYaml ?? '')
  );
}

export async function fetchResponse(
  agent: Agent,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<HttpResponse> {
  const res = await request(url, {
    dispatcher: agent,
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers ?? {},
    body: init.body ?? null,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

export async function readLog(harness: Harness): Promise<string> {
  return readFile(harness.logFile, 'utf8').catch(() => '');
}
