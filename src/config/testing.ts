/**
 * Test support for the config tests (not imported by the loader): temporary folders with real
 * files, and throw-away TLS identities made by the openssl CLI at test time, so that no private
 * key is ever committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ApiConfig } from './types.js';

export interface Identity {
  readonly cert: string;
  readonly key: string;
}

/** A self-signed P-256 certificate and its unencrypted PKCS#8 key. */
export async function makeIdentity(name: string): Promise<Identity> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-id-'));
  try {
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ],
      { stdio: 'ignore' },
    );
    return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A temporary folder holding a configuration file and whatever files it names. */
export interface ConfigDir {
  readonly dir: string;
  /** Writes `gatehouse.yaml` (or `name`) and returns its absolute path. */
  config(yaml: string, name?: string): Promise<string>;
  /** Writes a file relative to the folder and returns its absolute path. */
  file(relative: string, content: string): Promise<string>;
  remove(): Promise<void>;
}

export async function makeConfigDir(): Promise<ConfigDir> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'));
  const file = async (relative: string, content: string): Promise<string> => {
    const absolute = join(dir, relative);
    await mkdir(dirname(absolute), { recursive: true });
    await writeFile(absolute, content);
    return absolute;
  };
  await file('openapi.yaml', 'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n');
  return {
    dir,
    file,
    config: (yaml, name = 'gatehouse.yaml') => file(name, yaml),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The smallest valid file: one dev listener, one API. */
export const minimalYaml = `listeners:
  - name: public
    port: 8443
    tls: dev
apis:
  - name: bank
    openapi: ./openapi.yaml
    upstream:
      url: https://127.0.0.1:8444
`;

/**
 * An API as the loader would hand it on, for tests that compile a document without a
 * configuration file: its upstream is never reached.
 */
export function testApiConfig(
  name: string,
  { basePath = '/', url = 'https://127.0.0.1:8444' }: { basePath?: string; url?: string } = {},
): ApiConfig {
  return {
    name,
    openapi: `/contracts/${name}.yaml`,
    basePath,
    upstream: {
      url,
      socketPath: null,
      tls: { dev: true },
      connectTimeoutMs: 1000,
      responseTimeoutMs: 1000,
      maxResponseBytes: 1024,
      connections: 1,
    },
  };
}
