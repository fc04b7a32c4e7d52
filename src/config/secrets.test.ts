import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { checkConfig, ConfigError, loadConfig, parseSecretRef, type ConfigIssue } from './index.js';
import { makeConfigDir, makeIdentity, minimalYaml, type ConfigDir, type Identity } from './testing.js';

let fixture: ConfigDir;
let server: Identity;
let other: Identity;
beforeAll(async () => {
  [server, other] = await Promise.all([makeIdentity('server'), makeIdentity('other')]);
});
beforeEach(async () => {
  fixture = await makeConfigDir();
  await fixture.file('server.crt', server.cert);
  await fixture.file('server.key', server.key);
});
afterEach(async () => {
  await fixture.remove();
});

/** The minimal file with the listener's `tls: dev` replaced by `tls` lines (indented under the listener). */
const withListenerTls = (tls: string) => minimalYaml.replace('    tls: dev\n', `    tls:\n${tls}`);

async function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<readonly ConfigIssue[]> {
  const result = await checkConfig(await fixture.config(yaml), env);
  expect(result.config).toBeNull();
  return result.issues;
}

const issue = (path: string, line: number | null, message: string, hint: string) => ({
  path,
  line,
  message: expect.stringContaining(message),
  hint: expect.stringContaining(hint),
});

/** A line from the middle of a PEM body: if it shows up in a report, secret material leaked. */
const bodyLine = (pem: string) => pem.split('\n')[1]!;

describe('secret references', () => {
  test('parseSecretRef accepts env:NAME and file:PATH only', () => {
    expect(parseSecretRef('env:TLS_KEY')).toEqual({ kind: 'env', name: 'TLS_KEY' });
    expect(parseSecretRef('file:/run/secrets/key.pem')).toEqual({
      kind: 'file',
      path: '/run/secrets/key.pem',
    });
    expect(parseSecretRef('env:1BAD')).toEqual({
      message: 'names an invalid environment variable',
      hint: expect.stringContaining('env:NAME'),
    });
    expect(parseSecretRef('file:')).toEqual({
      message: 'has no file path after "file:"',
      hint: expect.stringContaining('file:PATH'),
    });
    expect(parseSecretRef('vault:secret/tls')).toEqual({
      message: 'is not a secret reference (env:NAME or file:PATH)',
      hint: expect.stringContaining('move the secret to a file'),
    });
  });

  test('an inline private key is refused, and no part of it appears in the report', async () => {
    const inline = server.key
      .trimEnd()
      .split('\n')
      .map((line) => `        ${line}`)
      .join('\n');
    const file = await fixture.config(withListenerTls(`      cert: server.crt\n      key: |\n${inline}\n`));
    const error = (await loadConfig(file, {}).catch((err: unknown) => err)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues).toEqual([
      issue(
        'listeners[0].tls.key',
        6,
        'holds a private key written inline',
        'move the secret to a file (key: file:',
      ),
    ]);
    expect(error.issues[0]?.hint).toContain('or an environment variable (key: env:');
    for (const text of [error.message, JSON.stringify(error.issues)]) {
      expect(text).not.toContain(bodyLine(server.key));
      expect(text).not.toContain('BEGIN PRIVATE KEY');
    }
  });

  test('a plain path without file: is refused with the reference hint', async () => {
    const issues = await issuesOf(withListenerTls('      cert: server.crt\n      key: ./server.key\n'));
    expect(issues).toEqual([
      issue(
        'listeners[0].tls.key',
        6,
        'is not a secret reference',
        'if this is a file path, prefix it with file:',
      ),
    ]);
    expect(issues[0]?.message).not.toContain('server.key');
  });

  test('a missing environment variable and an unreadable key file are named, per field', async () => {
    const upstreamTls =
      'url: https://127.0.0.1:8444\n      tls: { cert: server.crt, key: "file:keys/absent.pem" }';
    const yaml = withListenerTls('      cert: server.crt\n      key: env:GH_TEST_KEY\n').replace(
      'url: https://127.0.0.1:8444',
      upstreamTls,
    );
    const issues = await issuesOf(yaml);
    expect(issues).toEqual([
      issue(
        'listeners[0].tls.key',
        6,
        'environment variable GH_TEST_KEY is not set',
        'set GH_TEST_KEY before starting Gatehouse',
      ),
      issue(
        'apis[0].upstream.tls.key',
        12,
        `file "keys/absent.pem" (${join(fixture.dir, 'keys/absent.pem')}) does not exist`,
        'check the path',
      ),
    ]);
  });

  test('an empty variable, and a variable that holds no PEM key, are refused without echoing the value', async () => {
    const yaml = withListenerTls('      cert: server.crt\n      key: env:GH_TEST_KEY\n');
    expect(await issuesOf(yaml, { GH_TEST_KEY: ' ' })).toEqual([
      issue(
        'listeners[0].tls.key',
        6,
        'environment variable GH_TEST_KEY is empty',
        'put the PEM key in GH_TEST_KEY',
      ),
    ]);
    const issues = await issuesOf(yaml, { GH_TEST_KEY: 's3cr3t-value' });
    expect(issues).toEqual([
      issue(
        'listeners[0].tls.key',
        6,
        'environment variable GH_TEST_KEY does not hold a PEM private key',
        'PEM private key',
      ),
    ]);
    expect(JSON.stringify(issues)).not.toContain('s3cr3t');
  });

  test('an encrypted key and a key of another certificate are refused', async () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' },
    });
    await fixture.file('enc.key', privateKey);
    await fixture.file('other.key', other.key);
    const listener = (name: string, port: number, key: string) =>
      `  - name: ${name}\n    port: ${port}\n    tls: { cert: server.crt, key: "${key}" }\n`;
    const yaml = minimalYaml.replace(
      'apis:\n',
      listener('enc', 1, 'file:enc.key') + listener('mismatch', 2, 'env:OTHER_KEY') + 'apis:\n',
    );
    const issues = await issuesOf(yaml, { OTHER_KEY: other.key });
    expect(issues).toEqual([
      issue('listeners[1].tls.key', 7, 'holds an encrypted private key', 'Gatehouse takes no passphrase'),
      issue(
        'listeners[2].tls.key',
        10,
        'is not the private key of the certificate in cert',
        'belong together',
      ),
    ]);
    expect(JSON.stringify(issues)).not.toContain(bodyLine(other.key));
  });
});

describe('PEM path fields', () => {
  test('a cert that is not PEM, a cert file holding a key, and a missing ca are each reported', async () => {
    await fixture.file('notpem.crt', 'hello');
    await fixture.file('combined.pem', server.cert + server.key);
    const listener = (name: string, port: number, tls: string) =>
      `  - name: ${name}\n    port: ${port}\n    tls: ${tls}\n`;
    const yaml = minimalYaml.replace(
      'apis:\n',
      listener('a', 1, '{ cert: notpem.crt, key: "file:server.key" }') +
        listener('b', 2, '{ cert: combined.pem, key: "file:server.key" }') +
        listener('c', 3, '{ cert: server.crt, key: "file:server.key", ca: ca/clients.pem }') +
        listener('d', 4, '{ cert: server.key, key: "file:server.key" }') +
        'apis:\n',
    );
    const issues = await issuesOf(yaml);
    expect(issues).toEqual([
      issue('listeners[1].tls.cert', 7, 'file "notpem.crt"', 'give a PEM certificate file'),
      issue(
        'listeners[2].tls.cert',
        10,
        'holds a private key as well as certificates',
        'keep only certificates in this file',
      ),
      issue(
        'listeners[3].tls.ca',
        13,
        `file "ca/clients.pem" (${join(fixture.dir, 'ca/clients.pem')}) does not exist`,
        'check the path',
      ),
      issue(
        'listeners[4].tls.cert',
        16,
        'holds a private key as well as certificates',
        'keep only certificates',
      ),
    ]);
    expect(issues[0]?.message).toContain('does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")');
    expect(JSON.stringify(issues)).not.toContain(bodyLine(server.key));
  });

  test('PEM text pasted into a path field is refused without being repeated', async () => {
    const yaml = withListenerTls(
      `      cert: "${server.cert.replaceAll('\n', '\\n')}"\n      key: file:server.key\n`,
    );
    const issues = await issuesOf(yaml);
    expect(issues).toEqual([
      issue(
        'listeners[0].tls.cert',
        5,
        'holds PEM text, but takes a file path',
        'save the PEM text to a file',
      ),
    ]);
    expect(JSON.stringify(issues)).not.toContain(bodyLine(server.cert));
  });

  test('upstream cert without key (mTLS needs both)', async () => {
    const yaml = minimalYaml.replace(
      'url: https://127.0.0.1:8444',
      'url: https://127.0.0.1:8444\n      tls:\n        cert: server.crt',
    );
    expect(await issuesOf(yaml)).toEqual([
      issue(
        'apis[0].upstream.tls.key',
        10,
        '"cert" is set but "key" is not',
        'set both cert and key, or neither',
      ),
    ]);
  });
});
