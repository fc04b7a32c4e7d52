import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { checkConfig, loadConfig } from './index.js';
import { makeConfigDir, makeIdentity, minimalYaml, type ConfigDir, type Identity } from './testing.js';

let fixture: ConfigDir;
beforeEach(async () => {
  fixture = await makeConfigDir();
});
afterEach(async () => {
  await fixture.remove();
});

describe('loadConfig on valid files', () => {
  test('a minimal file gets every default, with paths resolved against its folder', async () => {
    const config = await loadConfig(await fixture.config(minimalYaml), {});
    // The sections of the core; auth, keys, limits and validation check their own defaults.
    expect(config).toMatchObject({
      stateDir: join(fixture.dir, '.gatehouse'),
      listeners: [{ name: 'public', host: '127.0.0.1', port: 8443, tls: { dev: true } }],
      limits: {
        maxHeaderBytes: 16384,
        maxBodyBytes: 1048576,
        maxPathBytes: 2048,
        headersTimeoutMs: 10000,
        requestTimeoutMs: 30000,
        idleTimeoutMs: 60000,
        maxConnections: 10000,
        maxConnectionsPerAddress: 1000,
        maxHandshakesPerAddressPerSecond: 256,
      },
      apis: [
        {
          name: 'bank',
          openapi: join(fixture.dir, 'openapi.yaml'),
          basePath: '/',
          upstream: {
            url: 'https://127.0.0.1:8444',
            tls: { dev: false, ca: null, cert: null, key: null, serverName: null },
            connectTimeoutMs: 2000,
            responseTimeoutMs: 15000,
            maxResponseBytes: 8388608,
            connections: 64,
          },
        },
      ],
      log: { level: 'info', access: true, destination: 'stdout' },
      journeyBufferSize: 1000,
    });
  });

  test('every setting written out is taken as written; tls: dev on both sides', async () => {
    const file = await fixture.config(`stateDir: /var/lib/gatehouse
listeners:
  - name: public
    host: 0.0.0.0
    port: 0
    tls: dev
  - name: second
    host: ::1
    port: 0
    tls: dev
limits: { maxHeaderBytes: 8192, maxBodyBytes: 1024, maxPathBytes: 512, headersTimeoutMs: 500,
  requestTimeoutMs: 900, idleTimeoutMs: 700, maxConnections: 3 }
apis:
  - name: bank
    openapi: ./openapi.yaml
    basePath: /bank/v1
    upstream:
      url: https://bank.internal:8444/root
      tls: dev
      connectTimeoutMs: 1
      responseTimeoutMs: 2
      maxResponseBytes: 3
      connections: 4
  - name: shop
    openapi: ${join(fixture.dir, 'openapi.yaml')}
    basePath: /bank/v1
    upstream: { url: "https://127.0.0.1:9000" }
log: { level: debug, access: false, destination: logs/gatehouse.log }
journeyBufferSize: 0
`);
    const config = await loadConfig(file, {});
    expect(config.stateDir).toBe('/var/lib/gatehouse');
    expect(config.listeners.map((l) => [l.host, l.port, l.tls])).toEqual([
      ['0.0.0.0', 0, { dev: true }],
      ['::1', 0, { dev: true }],
    ]);
    expect(config.limits).toEqual({
      maxHeaderBytes: 8192,
      maxBodyBytes: 1024,
      maxPathBytes: 512,
      headersTimeoutMs: 500,
      requestTimeoutMs: 900,
      idleTimeoutMs: 700,
      maxConnections: 3,
      maxConnectionsPerAddress: 1000,
      maxHandshakesPerAddressPerSecond: 256,
    });
    expect(config.apis[0]).toEqual({
      name: 'bank',
      openapi: join(fixture.dir, 'openapi.yaml'),
      basePath: '/bank/v1',
      upstream: {
        url: 'https://bank.internal:8444/root',
        socketPath: null,
        tls: { dev: true },
        connectTimeoutMs: 1,
        responseTimeoutMs: 2,
        maxResponseBytes: 3,
        connections: 4,
      },
    });
    expect(config.apis[1]?.basePath).toBe('/bank/v1'); // APIs may share a base path
    expect(config.log).toEqual({
      level: 'debug',
      access: false,
      destination: join(fixture.dir, 'logs/gatehouse.log'),
    });
    expect(config.journeyBufferSize).toBe(0);
  });

  test('the result is deep-frozen', async () => {
    const config = await loadConfig(await fixture.config(minimalYaml), {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listeners)).toBe(true);
    expect(Object.isFrozen(config.listeners[0]?.tls)).toBe(true);
    expect(Object.isFrozen(config.apis[0]?.upstream.tls)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(() => {
      (config.limits as { maxBodyBytes: number }).maxBodyBytes = 1;
    }).toThrow(TypeError);
    expect(() => (config.apis as unknown[]).push({})).toThrow(TypeError);
  });

  test('checkConfig on a valid file: the config and no issues', async () => {
    const result = await checkConfig(await fixture.config(minimalYaml), {});
    expect(result.issues).toEqual([]);
    expect(result.config?.apis[0]?.name).toBe('bank');
  });
});

describe('TLS material', () => {
  let server: Identity;
  let client: Identity;
  beforeAll(async () => {
    [server, client] = await Promise.all([makeIdentity('server'), makeIdentity('client')]);
  });

  test('listener cert and ca are read from files, key from file: — all replaced by PEM text', async () => {
    await fixture.file('tls/server.crt', server.cert);
    await fixture.file('tls/server.key', server.key);
    await fixture.file('tls/clients.crt', client.cert);
    const file = await fixture.config(
      minimalYaml.replace(
        'tls: dev',
        'tls: { cert: tls/server.crt, key: "file:tls/server.key", ca: ./tls/clients.crt }',
      ),
    );
    const config = await loadConfig(file, {});
    expect(config.listeners[0]?.tls).toEqual({
      dev: false,
      cert: server.cert,
      key: server.key,
      ca: client.cert,
    });
  });

  test('upstream mTLS: key from env:, ca and cert from absolute paths, serverName kept', async () => {
    const ca = await fixture.file('upstream-ca.pem', server.cert);
    const cert = await fixture.file('client.pem', client.cert);
    const file = await fixture.config(
      minimalYaml.replace(
        'url: https://127.0.0.1:8444',
        `url: https://127.0.0.1:8444\n      tls:\n        ca: ${ca}\n        cert: ${cert}\n        key: env:GH_CLIENT_KEY\n        serverName: bank.internal`,
      ),
    );
    const config = await loadConfig(file, { GH_CLIENT_KEY: client.key });
    expect(config.apis[0]?.upstream.tls).toEqual({
      dev: false,
      ca: server.cert,
      cert: client.cert,
      key: client.key,
      serverName: 'bank.internal',
    });
  });

  test('upstream tls with only a ca: system identity, no client certificate', async () => {
    await fixture.file('ca.pem', server.cert);
    const file = await fixture.config(
      minimalYaml.replace(
        'url: https://127.0.0.1:8444',
        'url: https://127.0.0.1:8444\n      tls: { ca: ca.pem }',
      ),
    );
    const config = await loadConfig(file, {});
    expect(config.apis[0]?.upstream.tls).toEqual({
      dev: false,
      ca: server.cert,
      cert: null,
      key: null,
      serverName: null,
    });
  });
});

describe('OpenAPI overlays and default security', () => {
  test('overlay paths resolve against the config folder, in order; defaultSecurity is kept as written', async () => {
    await fixture.file('overlays/security.yaml', 'overlay: 1.0.0\n');
    const absolute = await fixture.file('elsewhere/marks.yaml', 'overlay: 1.0.0\n');
    const file = await fixture.config(
      minimalYaml.replace(
        '    openapi: ./openapi.yaml\n',
        `    openapi: ./openapi.yaml\n    overlays: [./overlays/security.yaml, ${absolute}]\n` +
          '    defaultSecurity:\n      - { bankToken: [], bankJwt: [accounts:read] }\n',
      ),
    );
    const config = await loadConfig(file, {});
    expect(config.apis[0]?.overlays).toEqual([join(fixture.dir, 'overlays/security.yaml'), absolute]);
    expect(config.apis[0]?.defaultSecurity).toEqual([{ bankToken: [], bankJwt: ['accounts:read'] }]);
    expect(Object.isFrozen(config.apis[0]?.defaultSecurity?.[0])).toBe(true);
  });

  test('an API without them has neither key: the document is used as written', async () => {
    const config = await loadConfig(await fixture.config(minimalYaml), {});
    expect(config.apis[0]).not.toHaveProperty('overlays');
    expect(config.apis[0]).not.toHaveProperty('defaultSecurity');
  });
});
