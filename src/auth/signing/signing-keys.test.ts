import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  keySchedule,
  loadSigningKeyRing,
  rotateSigningKey,
  SIGNING_KEY_FOLDER,
  type SigningKeyLog,
} from './signing-keys.js';

/** Tokens of at most 300 s, keys published 90 s before they sign, retired 60 s after the last token. */
const timing = { longestLifetimeSec: 300, publishAheadSec: 90, retireMarginSec: 60 };
const SEC = 1000;

function recordingLog(): SigningKeyLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (fields, message) => lines.push(`info ${message} ${JSON.stringify(fields)}`),
    warn: (fields, message) => lines.push(`warn ${message} ${JSON.stringify(fields)}`),
  };
}

describe('signing keys', () => {
  let dir: string;
  const folder = () => path.join(dir, SIGNING_KEY_FOLDER);
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-sign-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('generates a P-256 key in the state folder on first use, readable by its owner only', async () => {
    const ring = await loadSigningKeyRing([], dir, timing);
    const [file] = await readdir(folder());
    expect(file).toMatch(/^es256-\d{13}\.pem$/);
    expect((await stat(path.join(folder(), file!))).mode & 0o777).toBe(0o600);
    expect((await stat(folder())).mode & 0o777).toBe(0o700);
    expect(ring.published).toEqual([ring.active]);
    expect(ring.jwks.keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      kid: ring.active.kid,
      alg: 'ES256',
      use: 'sig',
    });
    expect(ring.jwks.keys[0]).not.toHaveProperty('d');
    expect(JSON.parse(ring.jwksJson)).toEqual(ring.jwks);
    expect((await loadSigningKeyRing([], dir, timing)).active.kid).toBe(ring.active.kid); // stable across starts
  });

  it('publishes a new key at once, signs with it publishAheadSec later, and retires the old one after its last token, deleting its file', async () => {
    const log = recordingLog();
    const ring = await loadSigningKeyRing([], dir, timing, { refreshEveryMs: 60_000, log });
    const old = ring.active;
    const { kid, createdAt } = await rotateSigningKey(dir);

    await ring.refresh(createdAt + 1);
    expect(ring.active.kid).toBe(old.kid);
    expect(ring.published.map((k) => k.kid)).toEqual([kid, old.kid]);
    expect(ring.jwks.keys.map((k) => k.kid)).toEqual([kid, old.kid]);

    await ring.refresh(createdAt + 90 * SEC);
    expect(ring.active.kid).toBe(kid);
    expect(ring.published.map((k) => k.kid)).toEqual([kid, old.kid]);

    // The old key signed until the new one took over (90 s, up to 2 s late on a replica); its last
    // token lives 300 s, plus the 60 s margin.
    await ring.refresh(createdAt + (90 + 2 + 300 + 60) * SEC - 1);
    expect(ring.published.map((k) => k.kid)).toEqual([kid, old.kid]);
    expect(await readdir(folder())).toHaveLength(2);
    await ring.refresh(createdAt + (90 + 2 + 300 + 60) * SEC);
    expect(ring.published.map((k) => k.kid)).toEqual([kid]);
    expect(ring.jwksJson).not.toContain(old.kid);
    expect(await readdir(folder())).toEqual([`es256-${createdAt}.pem`]);
    ring.close();

    expect(log.lines.map((line) => line.split(' {')[0])).toEqual([
      'info signing key now signs',
      'info signing key published',
      'info signing key now signs',
      'info signing key retired: every token it signed has expired; unpublished and its private key file deleted',
    ]);
    expect(log.lines[1]).toContain(new Date(createdAt + 90 * SEC).toISOString());
  });

  it('skips a file that is not a key, saying so, and keeps signing with the others', async () => {
    const log = recordingLog();
    const ring = await loadSigningKeyRing([], dir, timing, { refreshEveryMs: 60_000, log });
    await writeFile(path.join(folder(), `es256-${Date.now() + 5}.pem`), 'not a key');
    await ring.refresh(Date.now() + 3600 * SEC);
    await ring.refresh(Date.now() + 3601 * SEC); // said once, not every second
    expect(ring.published).toHaveLength(1);
    expect(await readdir(folder())).toHaveLength(2); // no staging file left behind by the rotation
    expect(log.lines.filter((line) => line.startsWith('warn'))).toEqual([
      expect.stringContaining('warn signing keys: skipping a file that is not a P-256 private key'),
    ]);
    ring.close();
  });

  it('takes configured keys instead, the first signing, all published', async () => {
    const pems = [0, 1].map(() =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    );
    const ring = await loadSigningKeyRing(pems, dir, timing);
    expect(ring.published).toHaveLength(2);
    expect(ring.active).toBe(ring.published[0]);
    expect(await readdir(dir)).toEqual([]); // nothing generated
  });
});

describe('the key schedule', () => {
  const t = { longestLifetimeSec: 10, publishAheadSec: 5, retireMarginSec: 1 };
  it.each([
    // [creation times (s), now (s), signing index, first published index]
    [[0], 0, 0, 0],
    [[0, 100], 104, 0, 0], // the new key is published, not yet signing
    [[0, 100], 105, 1, 0], // it signs; the old key's tokens are still live
    [[0, 100], 117, 1, 0], // 10 s of tokens + 1 s margin + 2 s of switching after 105: published at 117.999
    [[0, 100], 118, 1, 1], // retired
    [[0, 100, 200], 300, 2, 2], // a chain: both older keys retired
    [[0, 100, 200], 204, 1, 1], // the newest not yet signing, the oldest long retired
    [[0, 100, 200], 217, 2, 1], // the middle key's tokens still live
    [[100, 101], 102, 0, 0], // a fresh folder of two keys: the oldest signs until the newer may
  ])(
    'keys made at %j, at %d s: key %d signs, published from key %d',
    (created, now, active, firstPublished) => {
      expect(
        keySchedule(
          created.map((s) => s * SEC),
          now * SEC,
          t,
        ),
      ).toEqual({ active, firstPublished });
    },
  );
});
