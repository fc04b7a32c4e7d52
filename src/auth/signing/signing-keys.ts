import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import { chmod, link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../../config/types.js';

/** One ES256 key the gateway signs with (access tokens, identity assertions). */
export interface SigningKey {
  /** RFC 7638 thumbprint of the public key: the `kid` of everything it signs. */
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public key as published: kty, crv, x, y, kid, alg, use. */
  readonly publicJwk: JWK;
}

/**
 * The gateway's signing keys as they are now: the key that signs, and every key published (and
 * accepted) — a new key before it signs, a replaced one until every token it signed has expired.
 */
export interface SigningKeyRing {
  readonly active: SigningKey;
  readonly published: readonly SigningKey[];
  /** The JWK Set served at /.well-known/jwks.json (RFC 7517 §5). */
  readonly jwks: { readonly keys: readonly JWK[] };
  /** The same, serialized once per change. */
  readonly jwksJson: string;
  /** jose's key lookup over the keys published now, for the gateway's own tokens. */
  readonly verificationKeys: JWTVerifyGetKey;
  /** Re-reads the state folder and applies the schedule at `now` (the timer's work; tests call it). */
  refresh(now?: number): Promise<void>;
  /** Stops following the state folder. */
  close(): void;
}

/** When generated keys start signing and stop being published. */
export interface RotationTiming {
  /** The longest lifetime of anything the gateway signs (access tokens, identity assertions). */
  readonly longestLifetimeSec: number;
  /** A new key is published this long before it signs, so caches of the JWKS have it first. */
  readonly publishAheadSec: number;
  /** Allowance for clocks after the last token a replaced key signed has expired. */
  readonly retireMarginSec: number;
}

/** When generated signing keys take over from each other, for this configuration. */
export function rotationTimingOf(auth: AuthConfig): RotationTiming {
  return {
    longestLifetimeSec: Math.max(auth.tokenEndpoint.lifetimeSec, auth.identity.lifetimeSec),
    ...auth.signingKeyRotation,
  };
}

/** What the ring says of its changes: a key published, signing, retired (pino's shape). */
export interface SigningKeyLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface FollowOptions {
  /** Re-reads the state folder this often (a rotation on any gateway sharing it, a retirement). */
  readonly refreshEveryMs: number;
  readonly log: SigningKeyLog | null;
}

/** How late a gateway following the folder may switch keys: two refreshes of a second. */
const SWITCH_SLACK_MS = 2000;

/** Folder under stateDir that holds generated keys, one `es256-<created ms>.pem` each (mode 0600). */
export const SIGNING_KEY_FOLDER = 'signing-keys';
const KEY_FILE = /^es256-(\d{13})\.pem$/;

/**
 * Keys from configuration (`auth.signingKeys`: the first signs, all are published; the operator
 * rotates by putting a new key first and removes the old one once its tokens have expired), or
 * else from the state folder, where one is generated on first start and `rotateSigningKey` adds
 * the next. With `follow`, folder keys change by themselves: a new file is published within one
 * refresh, signs `publishAheadSec` after it was made, and the key it replaces is unpublished and
 * its file deleted once every token it signed has expired — on every gateway sharing the folder,
 * with no reload, because each decides from the times in the file names alone.
 */
export async function loadSigningKeyRing(
  configured: readonly string[],
  stateDir: string,
  timing: RotationTiming,
  follow?: FollowOptions,
): Promise<SigningKeyRing> {
  if (configured.length > 0) {
    const keys = await Promise.all(configured.map((pem) => signingKeyFrom(createPrivateKey(pem))));
    return new FixedRing(keys[0]!, keys);
  }
  if ((await listKeyFiles(stateDir)).length === 0) await rotateSigningKey(stateDir);
  const ring = new FolderRing(stateDir, timing, follow?.log ?? null);
  await ring.refresh();
  if (follow !== undefined) ring.follow(follow.refreshEveryMs);
  return ring;
}

/**
 * Which keys of a folder sign and which are published at `now`, from their creation times
 * (ascending): the newest key made at least `publishAheadSec` ago signs (the oldest, if none is);
 * a key before the signing one is retired once the key after it has signed for longer than the
 * longest lifetime plus the margin. Returns the signing key's index and the first published one.
 */
export function keySchedule(
  createdAt: readonly number[],
  now: number,
  timing: RotationTiming,
): { readonly active: number; readonly firstPublished: number } {
  const ahead = timing.publishAheadSec * 1000;
  let active = 0;
  for (let i = createdAt.length - 1; i > 0; i -= 1) {
    if (createdAt[i]! + ahead <= now) {
      active = i;
      break;
    }
  }
  // A replica switches keys at its next refresh (a second, two if one was skipped): the old key
  // may sign that much later than the schedule says.
  const afterLastToken = (timing.longestLifetimeSec + timing.retireMarginSec) * 1000 + SWITCH_SLACK_MS;
  let firstPublished = 0;
  while (firstPublished < active && now >= createdAt[firstPublished + 1]! + ahead + afterLastToken) {
    firstPublished += 1;
  }
  return { active, firstPublished };
}

/** Writes a new P-256 key to the state folder and returns its kid and when it starts signing. */
export async function rotateSigningKey(stateDir: string): Promise<{ kid: string; createdAt: number }> {
  const folder = path.join(stateDir, SIGNING_KEY_FOLDER);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Written whole under a temporary name, then linked under its real one: a gateway reading the
  // folder meanwhile never sees half a key. Names order the keys; two rotations within one
  // millisecond must not collide (link fails on an existing name).
  const staging = path.join(folder, `.staging-${randomUUID()}`);
  await writeFile(staging, pem, { mode: 0o600, flag: 'wx' });
  let createdAt = Date.now();
  try {
    for (;;) {
      try {
        await link(staging, path.join(folder, `es256-${createdAt}.pem`));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        createdAt += 1;
      }
    }
  } finally {
    await unlink(staging);
  }
  return { kid: (await signingKeyFrom(privateKey)).kid, createdAt };
}

interface KeyFile {
  readonly path: string;
  readonly createdAt: number;
}

async function listKeyFiles(stateDir: string): Promise<KeyFile[]> {
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

/** What a ring publishes, recomputed only when its keys change. */
abstract class Ring implements SigningKeyRing {
  #active!: SigningKey;
  #published: readonly SigningKey[] = [];
  #jwks!: { readonly keys: readonly JWK[] };
  #jwksJson = '';
  #lookup!: JWTVerifyGetKey;

  readonly verificationKeys: JWTVerifyGetKey = (header, token) => this.#lookup(header, token);

  get active(): SigningKey {
    return this.#active;
  }

  get published(): readonly SigningKey[] {
    return this.#published;
  }

  get jwks(): { readonly keys: readonly JWK[] } {
    return this.#jwks;
  }

  get jwksJson(): string {
    return this.#jwksJson;
  }

  async refresh(): Promise<void> {}

  close(): void {}

  protected set(active: SigningKey, published: readonly SigningKey[]): void {
    this.#active = active;
    this.#published = Object.freeze([...published]);
    this.#jwks = Object.freeze({ keys: Object.freeze(published.map((key) => key.publicJwk)) });
    this.#jwksJson = JSON.stringify(this.#jwks);
    this.#lookup = createLocalJWKSet({ keys: [...this.#jwks.keys] });
  }
}

class FixedRing extends Ring {
  constructor(active: SigningKey, published: readonly SigningKey[]) {
    super();
    this.set(active, published);
  }
}

/** Keys generated in the state folder, re-read on a timer (see loadSigningKeyRing). */
class FolderRing extends Ring {
  /** Keys read so far, by file path. */
  readonly #loaded = new Map<string, SigningKey>();
  /** Files that are not keys, said once each in the log (and tried again each refresh). */
  readonly #notKeys = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #refreshing = false;
  #closed = false;
  /** Retired files that could not be deleted: said once, and not retired again each second. */
  readonly #undeletable = new Set<string>();

  constructor(
    private readonly stateDir: string,
    private readonly timing: RotationTiming,
    private readonly log: SigningKeyLog | null,
  ) {
    super();
  }

  follow(everyMs: number): void {
    this.#timer = setInterval(() => void this.#refreshQuietly(), everyMs);
    this.#timer.unref();
  }

  override close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Reads the folder and applies the schedule; throws if the folder has no usable key. */
  override async refresh(now = Date.now()): Promise<void> {
    const files: (KeyFile & { key: SigningKey })[] = [];
    for (const file of await listKeyFiles(this.stateDir)) {
      if (this.#undeletable.has(file.path)) continue;
      const key = await this.#read(file);
      if (key !== null) files.push({ ...file, key });
    }
    if (files.length === 0)
      throw new Error(`no usable signing key in ${path.join(this.stateDir, SIGNING_KEY_FOLDER)}`);
    const { active, firstPublished } = keySchedule(
      files.map((file) => file.createdAt),
      now,
      this.timing,
    );
    // A ring closed meanwhile (its configuration replaced) leaves the folder to the current one.
    if (this.#closed) return;
    for (const retired of files.slice(0, firstPublished)) await this.#retire(retired.path, retired.key);
    const published = files.slice(firstPublished).map((file) => file.key);
    const signing = files[active]!.key;
    if (this.#closed || !this.#hasChanged(signing, published)) return;
    this.#announce(signing, published, files);
    this.set(signing, [...published].reverse());
  }

  async #refreshQuietly(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      await this.refresh();
    } catch (err) {
      // The keys in memory keep signing and verifying; the folder is tried again next time.
      this.log?.warn(
        { err: String(err) },
        'signing keys: cannot read the state folder; keeping the keys in use',
      );
    } finally {
      this.#refreshing = false;
    }
  }

  async #read(file: KeyFile): Promise<SigningKey | null> {
    const known = this.#loaded.get(file.path);
    if (known !== undefined) return known;
    try {
      const key = await signingKeyFrom(createPrivateKey(await readFile(file.path, 'utf8')));
      this.#loaded.set(file.path, key);
      this.#notKeys.delete(file.path);
      return key;
    } catch (err) {
      // `signing-key rotate` names a file only once it is whole: one that does not parse is not a
      // key, and is skipped rather than taking the others down with it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (!this.#notKeys.has(file.path)) {
        this.#notKeys.add(file.path);
        this.log?.warn(
          { file: file.path, err: String(err) },
          code === 'EACCES' || code === 'EPERM'
            ? 'signing keys: skipping a key file this process cannot read (give it to the user the gateway runs as)'
            : 'signing keys: skipping a file that is not a P-256 private key',
        );
      }
      return null;
    }
  }

  async #retire(file: string, key: SigningKey): Promise<void> {
    this.#loaded.delete(file);
    try {
      await unlink(file);
    } catch (err) {
      // Another gateway sharing the folder retired it first.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.#undeletable.add(file);
      this.log?.warn(
        { kid: key.kid, file, err: String(err) },
        'signing key retired, but its private key file could not be deleted: delete it by hand',
      );
      return;
    }
    this.log?.info(
      { kid: key.kid },
      'signing key retired: every token it signed has expired; unpublished and its private key file deleted',
    );
  }

  #hasChanged(signing: SigningKey, published: readonly SigningKey[]): boolean {
    if (this.published.length === 0) return true;
    return (
      signing !== this.active ||
      published.length !== this.published.length ||
      published.some((key) => !this.published.includes(key))
    );
  }

  #announce(
    signing: SigningKey,
    published: readonly SigningKey[],
    files: readonly (KeyFile & { key: SigningKey })[],
  ): void {
    if (this.log === null) return;
    if (signing !== this.active) this.log.info({ kid: signing.kid }, 'signing key now signs');
    for (const key of published) {
      if (this.published.includes(key) || key === signing) continue;
      const createdAt = files.find((file) => file.key === key)!.createdAt;
      const signsFrom = new Date(createdAt + this.timing.publishAheadSec * 1000).toISOString();
      this.log.info({ kid: key.kid, signsFrom }, 'signing key published');
    }
  }
}
