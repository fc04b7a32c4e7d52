import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The key that MACs device cookies (device-cookie.ts): 32 random bytes in `<stateDir>/device-key`
 * (mode 0600), generated on first start. Replicas sharing stateDir share it, so a cookie one
 * issues another accepts; removing the file forgets every device.
 */
export const DEVICE_KEY_FILE = 'device-key';
const KEY_BYTES = 32;

export async function loadDeviceKey(stateDir: string): Promise<Buffer> {
  const file = path.join(stateDir, DEVICE_KEY_FILE);
  const existing = await readKey(file);
  if (existing !== null) return existing;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // Written whole under a name of its own, then linked into place: a replica starting at the same
  // moment either wins the link or reads the winner's key, never a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(draft, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await unlink(draft);
  }
  const key = await readKey(file);
  if (key === null) throw new Error(`${file} vanished while it was being created`);
  return key;
}

async function readKey(file: string): Promise<Buffer | null> {
  const key = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (key !== null && key.length !== KEY_BYTES) {
    throw new Error(
      `${file} holds ${key.length} bytes instead of ${KEY_BYTES}: remove it and a new key is generated (devices logged in before are then forgotten)`,
    );
  }
  return key;
}
