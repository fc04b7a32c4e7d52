import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { checkConfig, ConfigError, formatIssue, loadConfig, type ConfigIssue } from './index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from './testing.js';
import { configWarnings } from './warnings.js';

let fixture: ConfigDir;
beforeEach(async () => {
  fixture = await makeConfigDir();
});
afterEach(async () => {
  await fixture.remove();
});

async function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<readonly ConfigIssue[]> {
  const result = await checkConfig(await fixture.config(yaml), env);
  expect(result.config).toBeNull();
  return result.issues;
}

/** An expected issue: exact path and line, and words that the message and hint must contain. */
const issue = (path: string, line: number | null, message: string, hint: string) => ({
  path,
  line,
  message: expect.stringContaining(message),
  hint: expect.stringContaining(hint),
});

describe('every bad field is reported at once, with path, line and hint', () => {
  test('a file with many problems', async () => {
    const issues = await issuesOf(`stateDir: .gatehouse
listeners:
  - name: public
    host: 127.0.0.1
    prot: 8443
    tls: prod
  - name: second
    host: "not a host"
    port: 70000
    tls: dev
  - name: admin
    port: "9443"
    tls: 5
limits:
  maxBodyBytes: -1
  headersTimeoutMs: 0
  maxConnetions: 10
apis:
  - name: Bank
    openapi: ./openapi.yaml
    basePath: /bank/
    upstream:
      url: https://127.0.0.1:8444
      connections: 1.5
  - name: shop
    upstream:
      url: https://127.0.0.1:8445
log:
  level: verbose
  access: "yes"
journeyBufferSize: 100001
extra: true
`);
    expect(issues).toEqual([
      issue('listeners[0].port', 3, '"port" is missing', 'add it, e.g. port: 8443'),
      issue(
        'listeners[0].prot',
        5,
        'unknown key "prot"',
        'did you mean "port"? remove it, or check the spelling; allowed keys here: name, host, port, tls',
      ),
      issue('listeners[0].tls', 6, 'is not a recognised value', 'write tls: dev'),
      issue('listeners[1].host', 8, 'is not an IP address or host name', 'use an address such as 127.0.0.1'),
      issue('listeners[1].port', 9, 'must be at most 65535', 'use a whole number from 0 to 65535'),
      issue(
        'listeners[2].port',
        12,
        'must be an integer, not a string',
        'expected an integer: write the number without quotes',
      ),
      issue('listeners[2].tls', 13, 'not a number', 'expected a string or a mapping'),
      issue('limits.maxBodyBytes', 15, 'must be at least 1', 'use a whole number of at least 1'),
      issue('limits.headersTimeoutMs', 16, 'must be at least 1', 'a timeout cannot be disabled'),
      issue('limits.maxConnetions', 17, 'unknown key "maxConnetions"', 'did you mean "maxConnections"?'),
      issue('apis[0].name', 19, '"Bank" is not allowed here', 'lowercase letters'),
      issue('apis[0].basePath', 21, '"/bank/" is not allowed here', 'end without one'),
      issue(
        'apis[0].upstream.connections',
        24,
        'must be an integer, not a fractional number',
        'expected an integer',
      ),
      issue('apis[1].openapi', 25, '"openapi" is missing', 'add it'),
      issue(
        'log.level',
        29,
        '"verbose" is not one of: debug, info, warn, error',
        'use one of: debug, info, warn, error',
      ),
      issue('log.access', 30, 'must be true or false, not a string', 'expected true or false'),
      issue('journeyBufferSize', 31, 'must be at most 100000', 'use a whole number from 0 to 100000'),
      issue(
        'extra',
        32,
        'unknown key "extra"',
        'allowed keys here: stateDir, listeners, limits, apis, log, journeyBufferSize',
      ),
    ]);
  });

  test('loadConfig throws a ConfigError listing each issue on its own line', async () => {
    const file = await fixture.config(
      minimalYaml.replace('port: 8443', 'port: -1').replace('name: bank', 'name: b_ank'),
    );
    const error = await loadConfig(file, {}).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message, code } = error as ConfigError;
    expect(code).toBe('GH_CONFIG_INVALID');
    expect(issues.map((i) => i.path)).toEqual(['listeners[0].port', 'apis[0].name']);
    expect(message.split('\n')).toEqual([
      `Invalid configuration ${file} (2 issues):`,
      'listeners[0].port (line 3): must be at least 0 — use a whole number from 0 to 65535',
      `apis[0].name (line 6): "b_ank" is not allowed here — ${issues[1]?.hint}`,
    ]);
  });

  test('missing top-level sections have no line; empty lists are refused', async () => {
    expect(await issuesOf('stateDir: x\n')).toEqual([
      issue('listeners', null, '"listeners" is missing', 'add it'),
      issue('apis', null, '"apis" is missing', 'add it'),
    ]);
    expect(await issuesOf('listeners: []\napis: []\n')).toEqual([
      issue('listeners', 1, 'is empty', 'declare at least one listener'),
      issue('apis', 2, 'is empty', 'declare at least one API'),
    ]);
  });

  test('a file that is not a mapping, and sections of the wrong type', async () => {
    expect(await issuesOf('- a\n- b\n')).toEqual([
      issue('', 1, 'must be a mapping (key: value lines), not a list', 'expected a mapping'),
    ]);
    expect(await issuesOf('')).toEqual([issue('', null, 'not an empty value', 'expected a mapping')]);
    const issues = await issuesOf(minimalYaml + 'limits:\nlog: [info]\n');
    expect(issues).toEqual([
      issue('limits', 10, 'not an empty value', 'or remove the key to use the default'),
      issue('log', 11, 'must be a mapping (key: value lines), not a list', 'expected a mapping'),
    ]);
  });

  test('an unknown key inside a tls mapping lists the keys allowed there', async () => {
    const issues = await issuesOf(
      minimalYaml.replace(
        'url: https://127.0.0.1:8444',
        'url: https://127.0.0.1:8444\n      tls: { rejectUnauthorized: false }',
      ),
    );
    expect(issues).toEqual([
      issue(
        'apis[0].upstream.tls.rejectUnauthorized',
        10,
        'unknown key "rejectUnauthorized"',
        'allowed keys here: ca, cert, key, serverName',
      ),
    ]);
  });

  test('headersTimeoutMs longer than requestTimeoutMs is refused (node:http would throw)', async () => {
    const issues = await issuesOf(minimalYaml + 'limits:\n  requestTimeoutMs: 5000\n');
    expect(issues).toEqual([
      issue(
        'limits.headersTimeoutMs',
        10,
        '(10000) is longer than requestTimeoutMs (5000)',
        'make headersTimeoutMs at most requestTimeoutMs',
      ),
    ]);
  });

  test('basePath with dot segments is refused', async () => {
    const issues = await issuesOf(minimalYaml.replace('openapi:', 'basePath: /a/../admin\n    openapi:'));
    expect(issues).toEqual([
      issue('apis[0].basePath', 7, 'contains a "." or ".." segment', 'without "." and ".." segments'),
    ]);
  });
});

describe('upstream URL', () => {
  test('http:// to another host is refused, with the sidecar way named', async () => {
    const issues = await issuesOf(minimalYaml.replace('https://127.0.0.1:8444', 'http://10.0.0.7:8080'));
    expect(issues).toEqual([
      issue(
        'apis[0].upstream.url',
        9,
        'uses plain http:// to a host that is not this one',
        'serve the upstream over https (mTLS recommended), or run Gatehouse beside it and write http://127.0.0.1:PORT or socket: PATH',
      ),
    ]);
  });

  test('http:// to a name, even localhost, is refused: a name may resolve elsewhere', async () => {
    const issues = await issuesOf(minimalYaml.replace('https://127.0.0.1:8444', 'http://localhost:8080'));
    expect(issues.map((i) => i.message)).toEqual(['uses plain http:// to a host that is not this one']);
  });

  test('http:// to a loopback address or a Unix socket is a sidecar: accepted, and warned of', async () => {
    const yaml = minimalYaml.replace('https://127.0.0.1:8444', 'http://127.0.0.1:8080');
    const loopback = await loadConfig(await fixture.config(yaml), {});
    expect(loopback.apis[0]!.upstream).toMatchObject({
      url: 'http://127.0.0.1:8080',
      tls: null,
      socketPath: null,
    });
    const v6 = await loadConfig(await fixture.config(yaml.replace('127.0.0.1', '[::1]')), {});
    expect(v6.apis[0]!.upstream.tls).toBeNull();
    const socket = await loadConfig(
      await fixture.config(
        yaml.replace('http://127.0.0.1:8080', 'http://notes.internal\n      socket: ./run/notes.sock'),
      ),
      {},
    );
    expect(socket.apis[0]!.upstream.socketPath).toBe(join(fixture.dir, 'run', 'notes.sock'));
    expect(configWarnings(socket)).toEqual([
      expect.stringMatching(/^warning: apis\[0\]\.upstream \(bank\) is plain http:\/\/ to a Unix socket/),
    ]);
    expect(configWarnings(loopback)).toEqual([
      expect.stringMatching(/is plain http:\/\/ to a loopback address/),
    ]);
  });

  test('a signing key published for no longer than the JWKS may be cached is warned of', async () => {
    const quick = await loadConfig(
      await fixture.config(`${minimalYaml}auth:\n  signingKeyRotation: { publishAheadSec: 60 }\n`),
      {},
    );
    expect(configWarnings(quick)).toEqual([
      expect.stringMatching(/^warning: auth\.signingKeyRotation\.publishAheadSec \(60\) is not longer than/),
    ]);
    expect(configWarnings(await loadConfig(await fixture.config(minimalYaml), {}))).toEqual([]);
  });

  test('TLS settings for a plain http:// upstream are refused', async () => {
    const yaml = minimalYaml.replace('https://127.0.0.1:8444', 'http://127.0.0.1:8080\n      tls: dev');
    const issues = await issuesOf(yaml);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'apis[0].upstream.tls: is set for a plain http:// upstream',
    ]);
  });

  test('other schemes, relative URLs, credentials and queries are refused; the password is never repeated', async () => {
    const yaml = minimalYaml.replace('https://127.0.0.1:8444', 'https://svc:hunter2@bank.internal/?debug=1');
    const issues = await issuesOf(
      `${yaml}  - name: two\n    openapi: ./openapi.yaml\n    upstream: { url: ftp://x }\n  - name: three\n    openapi: ./openapi.yaml\n    upstream: { url: /relative }\n`,
    );
    expect(issues).toEqual([
      issue('apis[0].upstream.url', 9, 'contains a user name or password', 'remove the user:password@ part'),
      issue('apis[0].upstream.url', 9, 'has a query or fragment', 'remove the "?…" or "#…" part'),
      issue('apis[1].upstream.url', 12, 'uses ftp:// instead of https://', 'write an https:// URL'),
      issue('apis[2].upstream.url', 15, 'is not an absolute URL', 'write an https:// URL'),
    ]);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });
});

describe('files', () => {
  test('a missing OpenAPI document is reported with the resolved path', async () => {
    const issues = await issuesOf(minimalYaml.replace('./openapi.yaml', './specs/bank.yaml'));
    expect(issues).toEqual([
      issue(
        'apis[0].openapi',
        7,
        `OpenAPI document "./specs/bank.yaml" (${join(fixture.dir, 'specs/bank.yaml')}) does not exist`,
        "relative paths start at the configuration file's folder",
      ),
    ]);
  });

  test('an OpenAPI path that is a folder is reported', async () => {
    const issues = await issuesOf(minimalYaml.replace('./openapi.yaml', '.'));
    expect(issues).toEqual([issue('apis[0].openapi', 7, 'is not a regular file', 'check the path')]);
  });

  test('an unreadable configuration file: a ConfigError with a clear message', async () => {
    const missing = join(fixture.dir, 'nope.yaml');
    const error = await loadConfig(missing, {}).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(
      `cannot read the configuration file ${missing} (ENOENT)`,
    );
    expect((error as ConfigError).issues).toEqual([
      issue('', null, 'cannot read the configuration file', 'check the path given with --config'),
    ]);
  });

  test('a configuration path that cannot be read as a file', async () => {
    const file = await fixture.config(minimalYaml);
    const folder = dirname(file);
    const result = await checkConfig(folder, {});
    expect(result.config).toBeNull();
    expect(result.issues).toEqual([
      issue('', null, `cannot read the configuration file ${folder} (EISDIR)`, '--config'),
    ]);
  });
});

describe('names and addresses', () => {
  test('duplicate listener and API names; colliding addresses; port 0 and shared base paths are fine', async () => {
    const issues = await issuesOf(`listeners:
  - { name: public, port: 8443, tls: dev }
  - { name: public, port: 8444, tls: dev }
  - { name: other, host: 0.0.0.0, port: 8443, tls: dev }
  - { name: t1, port: 0, tls: dev }
  - { name: t2, port: 0, tls: dev }
  - { name: v6, host: "::1", port: 8443, tls: dev }
apis:
  - { name: bank, openapi: openapi.yaml, basePath: /x, upstream: { url: "https://a" } }
  - { name: bank, openapi: openapi.yaml, basePath: /x, upstream: { url: "https://b" } }
`);
    expect(issues).toEqual([
      issue(
        'listeners[1].name',
        3,
        '"public" is already the name of listeners[0]',
        'give each listener its own name',
      ),
      issue(
        'listeners[2].port',
        4,
        '0.0.0.0 port 8443 collides with listeners[0] (127.0.0.1 port 8443)',
        'give each listener its own port',
      ),
      issue('apis[1].name', 10, '"bank" is already the name of apis[0]', 'give each API its own name'),
    ]);
  });
});

describe('YAML syntax', () => {
  test('a syntax error is one issue with its line', async () => {
    const issues = await issuesOf('listeners:\n  - name: public\n    port: 8443\n   tls: dev\napis: []\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toEqual(issue('', 4, 'YAML syntax error', 'fix the YAML syntax on this line'));
  });

  test('a duplicate key is a syntax error on the second occurrence', async () => {
    const issues = await issuesOf(
      minimalYaml.replace('    port: 8443\n', '    port: 8443\n    port: 8444\n'),
    );
    expect(issues).toEqual([issue('', 4, 'Map keys must be unique', 'remove one of the two')]);
  });

  test('an unclosed quote: the text is not quoted back (yaml places the error where the file ends)', async () => {
    const issues = await issuesOf('listeners:\n  - name: "public\n    port: 1\n');
    expect(issues).toEqual([issue('', 4, 'YAML syntax error: Missing closing "quote', 'matching quotes')]);
    expect(JSON.stringify(issues)).not.toContain('public');
  });

  test('formatIssue renders a file-level issue', () => {
    expect(formatIssue({ path: '', line: 3, message: 'm', hint: 'h' })).toBe('(file) (line 3): m — h');
    expect(formatIssue({ path: 'a.b', line: null, message: 'm', hint: 'h' })).toBe('a.b: m — h');
  });
});

test('a config file outside the working directory resolves paths against its own folder', async () => {
  const file = join(fixture.dir, 'sub', 'gatehouse.yaml');
  await fixture.file('sub/openapi.yaml', 'openapi: 3.1.0\n');
  await writeFile(file, minimalYaml);
  const config = await loadConfig(file, {});
  expect(config.apis[0]?.openapi).toBe(join(fixture.dir, 'sub', 'openapi.yaml'));
  expect(config.stateDir).toBe(join(fixture.dir, 'sub', '.gatehouse'));
});

describe('rate limits', () => {
  test('a policy name in rateLimits.apply that no policy has is refused here, not at start', async () => {
    const issues = await issuesOf(
      minimalYaml +
        'rateLimits:\n  apply: [per-client, per-clinet]\n  policies:\n    per-client: { key: [principal], limit: 100, window: 1m }\n',
    );
    expect(issues).toEqual([
      issue(
        'rateLimits.apply[1]',
        11,
        'names "per-clinet", which rateLimits.policies does not define',
        'use one of per-client',
      ),
    ]);
  });
});

describe('OpenAPI overlays and default security', () => {
  const withApiKeys = (keys: string) =>
    minimalYaml.replace('    openapi: ./openapi.yaml\n', `    openapi: ./openapi.yaml\n${keys}`);

  test('a missing overlay file is reported with its index, line and resolved path', async () => {
    await fixture.file('overlays/a.yaml', 'overlay: 1.0.0\n');
    const issues = await issuesOf(
      withApiKeys('    overlays:\n      - ./overlays/a.yaml\n      - ./overlays/b.yaml\n'),
    );
    expect(issues).toEqual([
      issue(
        'apis[0].overlays[1]',
        10,
        `overlay "./overlays/b.yaml" (${join(fixture.dir, 'overlays/b.yaml')}) does not exist`,
        "relative paths start at the configuration file's folder",
      ),
    ]);
  });

  test('overlays written as one path instead of a list is refused with the form to use', async () => {
    const issues = await issuesOf(withApiKeys('    overlays: ./overlays/a.yaml\n'));
    expect(issues).toEqual([
      issue(
        'apis[0].overlays',
        8,
        'must be a list',
        'list OpenAPI Overlay 1.0 files, e.g. [./overlays/security.yaml]',
      ),
    ]);
  });

  test.each([
    [
      'an empty list',
      '[]',
      'apis[0].defaultSecurity',
      'is empty',
      'list security requirements, e.g. [{ apiKey: [] }]',
    ],
    [
      'an empty requirement, which would let anyone in',
      '[{}]',
      'apis[0].defaultSecurity[0]',
      'is not valid',
      'an empty requirement {} lets requests in without credentials',
    ],
    [
      'scopes that are not a list',
      '[{ apiKey: read }]',
      'apis[0].defaultSecurity[0].apiKey',
      'must be a list',
      'give the scopes as a list',
    ],
  ])('defaultSecurity as %s is refused', async (_, value, path, message, hint) => {
    const issues = await issuesOf(withApiKeys(`    defaultSecurity: ${value}\n`));
    expect(issues).toEqual([issue(path, 8, message, hint)]);
  });
});
