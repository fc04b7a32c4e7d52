import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';

/** One ES256 key the gateway signs with (access tokens, identity assertions). */
export interface SigningKey {
  /** RFC 7638 thumbprint of the public key: the `kid` of everything it signs. */
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public key as published: kty, crv, x, y, kid, alg, use. */
  readonly publicJwk: JWK;
}

/**
 * The gateway's signing keys: the newest signs, and the ones it replaced stay published (and
 * accepted) until every token they signed has expired, so a rotation refuses no valid token.
 */
export interface SigningKeyRing {
  readonly active: SigningKey;
  readonly published: readonly SigningKey[];
  /** The JWK Set served at /.well-known/jwks.json (RFC 7517 §5). */
  readonly jwks: { readonly keys: readonly JWK[] };
}

/** Folder under stateDir that holds generated keys, one `es256-<created ms>.pem` each (mode 0600). */
export const SIGNING_KEY_FOLDER = 'signing-keys';
const KEY_FILE = /^es256-(\d{13})\.pem$/;
/** Allowance on top of the longest token lifetime before a replaced key is unpublished. */
const RETIRE_MARGIN_MS = 60_000;

/**
 * Keys from configuration (`auth.signingKeys`: the first signs, all are published; the operator
 * rotates by putting a new key first and removes the old one once its tokens have expired), or
 * else from the state folder, where one is generated on first start and `rotateSigningKey` adds
 * the next.
 */
export async function loadSigningKeyRing(
  configured: readonly string[],
  stateDir: string,
  longestLifetimeSec: number,
): Promise<SigningKeyRing> {
  if (configured.length > 0) {
    const keys = await Promise.all(configured.map((pem) => signingKeyFrom(createPrivateKey(pem))));
    return ring(keys[0]!, keys);
  }
  let files = await listKeyFiles(stateDir);
  if (files.length === 0) {
    await rotateSigningKey(stateDir);
    files = await listKeyFiles(stateDir);
  }
  const now = Date.now();
  const keep = files.filter((_file, i) => {
    const successor = files[i + 1];
    return (
      successor === undefined || now < successor.createdAt + longestLifetimeSec * 1000 + RETIRE_MARGIN_MS
    );
  });
  const keys = await Promise.all(
    keep.map(async (file) => signingKeyFrom(createPrivateKey(await readFile(file.path, 'utf8')))),
  );
  return ring(keys[keys.length - 1]!, keys.reverse());
}

/** Writes a new P-256 key to the state folder; the next start or reload signs with it. Returns its kid. */
export async function rotateSigningKey(stateDir: string): Promise<string> {
  const folder = path.join(stateDir, SIGNING_KEY_FOLDER);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let createdAt = Date.now();
  // Names order the keys; two rotations within one millisecond must not collide ('wx' fails).
  for (;;) {
    try {
      await writeFile(path.join(folder, `es256-${createdAt}.pem`), pem, { mode: 0o600, flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      createdAt += 1;
    }
  }
  return (await signingKeyFrom(privateKey)).kid;
}

async function listKeyFiles(stateDir: string): Promise<{ path: string; createdAt: number }[]> {
  const folder = path.join(stateDir, SIGNING_KEY_FOLDER);
  const names = await readdir(folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return names
    .flatMap((name) => {
      const match = KEY_FILE.exec(name);
      return match === null ? [] : [{ path: path.join(folder, name), createdAt: Number(match[1]) }];
    })
    .sort((a, b) => a.createdAt - b.createdAt);
}

async function signingKeyFrom(privateKey: KeyObject): Promise<SigningKey> {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new TypeError('a signing key must be an EC P-256 key');
  const kid = await calculateJwkThumbprint(jwk);
  // Fail at load, not at the first request, if the key cannot sign.
  sign('sha256', Buffer.from('probe'), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return Object.freeze({
    kid,
    privateKey,
    publicJwk: Object.freeze({ ...jwk, kid, alg: 'ES256', use: 'sig' }),
  });
}

function ring(active: SigningKey, published: readonly SigningKey[]): SigningKeyRing {
  return Object.freeze({
    active,
    published: Object.freeze([...published]),
    jwks: Object.freeze({ keys: Object.freeze(published.map((key) => key.publicJwk)) }),
  });
}
