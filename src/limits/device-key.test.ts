import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEVICE_KEY_FILE, loadDeviceKey } from './device-key.js';

describe('the device key in stateDir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-device-key-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('is generated once, 32 bytes readable by the owner alone, and read back by every later start', async () => {
    const stateDir = path.join(dir, 'state');
    const first = await loadDeviceKey(stateDir);
    expect(first).toHaveLength(32);
    const file = await stat(path.join(stateDir, DEVICE_KEY_FILE));
    expect(file.mode & 0o777).toBe(0o600);
    expect(await loadDeviceKey(stateDir)).toEqual(first);
    expect(await readdir(stateDir)).toEqual([DEVICE_KEY_FILE]); // no draft left behind
  });

  it('is the same key for replicas that start together on one stateDir', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadDeviceKey(dir)));
    for (const key of keys) expect(key).toEqual(keys[0]);
    expect(await readdir(dir)).toEqual([DEVICE_KEY_FILE]);
  });

  it('refuses a key file of the wrong size, saying how to start afresh', async () => {
    await writeFile(path.join(dir, DEVICE_KEY_FILE), 'short', { mode: 0o600 });
    await expect(loadDeviceKey(dir)).rejects.toThrow(/holds 5 bytes instead of 32: remove it/);
  });
});
