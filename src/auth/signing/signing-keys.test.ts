import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSigningKeyRing, rotateSigningKey, SIGNING_KEY_FOLDER } from './signing-keys.js';

describe('signing keys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-sign-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('generates a P-256 key in the state folder on first use, readable by its owner only', async () => {
    const ring = await loadSigningKeyRing([], dir, 300);
    const folder = path.join(dir, SIGNING_KEY_FOLDER);
    const [file] = await readdir(folder);
    expect(file).toMatch(/^es256-\d{13}\.pem$/);
    expect((await stat(path.join(folder, file!))).mode & 0o777).toBe(0o600);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect(ring.published).toEqual([ring.active]);
    expect(ring.jwks.keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      kid: ring.active.kid,
      alg: 'ES256',
      use: 'sig',
    });
    expect(ring.jwks.keys[0]).not.toHaveProperty('d');
    expect((await loadSigningKeyRing([], dir, 300)).active.kid).toBe(ring.active.kid); // stable across starts
  });

  it('signs with the newest key after a rotation and keeps publishing the old one until its tokens expire', async () => {
    const first = await loadSigningKeyRing([], dir, 300);
    const newKid = await rotateSigningKey(dir);
    const ring = await loadSigningKeyRing([], dir, 300);
    expect(ring.active.kid).toBe(newKid);
    expect(ring.published.map((k) => k.kid)).toEqual([newKid, first.active.kid]);
    // Pretend the rotation happened long ago: the old key's tokens have all expired.
    const folder = path.join(dir, SIGNING_KEY_FOLDER);
    const files = (await readdir(folder)).sort();
    const longAgo = Date.now() - 3_600_000;
    await rename(path.join(folder, files[1]!), path.join(folder, `es256-${longAgo}.pem`));
    await rename(path.join(folder, files[0]!), path.join(folder, `es256-${longAgo - 1000}.pem`));
    await utimes(folder, new Date(), new Date());
    expect((await loadSigningKeyRing([], dir, 300)).published.map((k) => k.kid)).toEqual([newKid]);
  });

  it('takes configured keys instead, the first signing, all published', async () => {
    const pems = [0, 1].map(() =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    );
    const ring = await loadSigningKeyRing(pems, dir, 300);
    expect(ring.published).toHaveLength(2);
    expect(ring.active).toBe(ring.published[0]);
    expect(await readdir(dir)).toEqual([]); // nothing generated
  });
});
