import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUsableCertificateSet } from './check-certificate-set.js';
import type { CertificateSet } from './dev-certificate-profile.js';

export interface DevCertificates {
  /** `<stateDir>/certs` */
  readonly dir: string;
  readonly caCertPath: string;
  readonly caCert: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const FILE_NAMES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
} as const satisfies Record<keyof CertificateSet, string>;

const PARTS = Object.keys(FILE_NAMES) as (keyof CertificateSet)[];
const KEY_PARTS: ReadonlySet<keyof CertificateSet> = new Set(['caKey', 'serverKey', 'clientKey']);
/** Losing a race only means reading the winner's set next round; more rounds mean a real fault. */
const MAX_ROUNDS = 4;

/** What was found at `<stateDir>/certs`: the folder's inode (if it was read whole) and its set. */
interface Snapshot {
  readonly inode: bigint | undefined;
  readonly set: CertificateSet | undefined;
}

/**
 * Returns the development CA, server and client certificates in `<stateDir>/certs`, issuing a new
 * set when there is none or the one there cannot be reused (see `isUsableCertificateSet`).
 * A set is only ever written whole into a fresh folder and renamed into place, so processes
 * starting together all end up with the same set: whoever renames first wins, the others read
 * the winner's.
 */
export async function ensureDevCertificates(stateDir: string, now = new Date()): Promise<DevCertificates> {
  const dir = join(stateDir, 'certs');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const found = await readSnapshot(dir);
    if (found.set !== undefined && isUsableCertificateSet(found.set, now)) return describe(dir, found.set);
    // Loaded on demand: a normal start reuses the set and never pays for the generator.
    const { issueDevCertificates } = await import('./issue-dev-certificates.js');
    const fresh = await issueDevCertificates(now);
    if (await install(stateDir, dir, fresh, found.inode)) return describe(dir, fresh);
  }
  throw new Error(`development certificates in ${dir} did not settle after ${MAX_ROUNDS} rounds`);
}

async function readSnapshot(dir: string): Promise<Snapshot> {
  const before = await inodeOf(dir);
  if (before === undefined) return { inode: undefined, set: undefined };
  const set = await readSet(dir);
  // Files read while another process swapped the folder may mix two sets: report no inode, so
  // this process does not move the newer folder aside but loses the rename and reads again.
  const after = await inodeOf(dir);
  return before === after ? { inode: before, set } : { inode: undefined, set: undefined };
}

async function readSet(dir: string): Promise<CertificateSet | undefined> {
  try {
    const texts = await Promise.all(PARTS.map((part) => readFile(join(dir, FILE_NAMES[part]), 'utf8')));
    return Object.fromEntries(PARTS.map((part, i) => [part, texts[i]])) as unknown as CertificateSet;
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw err;
  }
}

async function install(
  stateDir: string,
  dir: string,
  set: CertificateSet,
  stale: bigint | undefined,
): Promise<boolean> {
  // mkdtemp creates the folder with mode 0700, which the rename carries over to `dir`.
  const staging = await mkdtemp(join(stateDir, '.certs-staging-'));
  try {
    await writeSet(staging, set);
    if (stale !== undefined) await moveAsideIfStill(stateDir, dir, stale);
    return await tryRename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeSet(folder: string, set: CertificateSet): Promise<void> {
  for (const part of PARTS) {
    const mode = KEY_PARTS.has(part) ? 0o600 : 0o644;
    await writeFile(join(folder, FILE_NAMES[part]), set[part], { mode, flag: 'wx' });
  }
}

/**
 * Removes the folder judged stale, but only that one: if another process has meanwhile put a
 * fresh set in its place, that set stays (or is put back), and this process adopts it.
 */
async function moveAsideIfStill(stateDir: string, dir: string, stale: bigint): Promise<void> {
  if ((await inodeOf(dir)) !== stale) return;
  const aside = join(stateDir, `.certs-stale-${randomUUID()}`);
  if (!(await tryRename(dir, aside))) return;
  if ((await inodeOf(aside)) !== stale) await tryRename(aside, dir);
  await rm(aside, { recursive: true, force: true });
}

/** rename(2), reporting "the target is taken / the source is gone" as false instead of throwing. */
async function tryRename(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) return false;
    throw err;
  }
}

async function inodeOf(path: string): Promise<bigint | undefined> {
  try {
    return (await stat(path, { bigint: true })).ino;
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function hasCode(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

function describe(dir: string, set: CertificateSet): DevCertificates {
  const path = (part: keyof CertificateSet): string => join(dir, FILE_NAMES[part]);
  // The CA key stays on disk only: nothing at run time needs to sign with it.
  return {
    dir,
    caCertPath: path('caCert'),
    caCert: set.caCert,
    serverCertPath: path('serverCert'),
    serverKeyPath: path('serverKey'),
    serverCert: set.serverCert,
    serverKey: set.serverKey,
    clientCertPath: path('clientCert'),
    clientKeyPath: path('clientKey'),
    clientCert: set.clientCert,
    clientKey: set.clientKey,
  };
}
