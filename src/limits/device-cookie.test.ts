import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEVICE_COOKIE, DeviceCookies } from './device-cookie.js';
import { manualClock } from './testing.js';

const key = randomBytes(32);

/** The `name=value` a browser sends back for a Set-Cookie value. */
function sentBack(setCookie: string): string {
  return setCookie.split(';', 1)[0]!;
}

/** The Cookie header with the value's fields (id, expiry, mac) replaced by `edit`. */
function edited(setCookie: string, edit: (fields: string[]) => string[]): string {
  const value = sentBack(setCookie).slice(DEVICE_COOKIE.length + 1);
  return `${DEVICE_COOKIE}=${edit(value.split('.')).join('.')}`;
}

describe('device cookies', () => {
  it('issues a __Host- cookie that names a device, not the user, and recognises it for that username', () => {
    const devices = new DeviceCookies(key, 30);
    const setCookie = devices.issue('bob', null);
    expect(setCookie).toMatch(
      /^__Host-gatehouse-device=[A-Za-z0-9_-]{22}\.[0-9]+\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=2592000$/,
    );
    expect(setCookie).not.toContain('bob');
    const id = devices.recognise(`theme=dark; ${sentBack(setCookie)}; lang=en`, 'bob');
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(setCookie).toContain(`=${id}.`);
    // Renewed after the next login, the device keeps its id; another login gets another device.
    expect(devices.recognise(sentBack(devices.issue('bob', id)), 'bob')).toBe(id);
    expect(devices.recognise(sentBack(devices.issue('bob', null)), 'bob')).not.toBe(id);
  });

  it('ignores a cookie whose MAC does not verify: altered, from another key, or malformed', () => {
    const devices = new DeviceCookies(key, 30);
    const setCookie = devices.issue('bob', null);
    const [id, expires, mac] = sentBack(setCookie)
      .slice(DEVICE_COOKIE.length + 1)
      .split('.') as [string, string, string];
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    expect(
      devices.recognise(
        edited(setCookie, () => [id, expires, flipped]),
        'bob',
      ),
    ).toBeNull();
    // Another device's id, or a later expiry, under the same MAC.
    const otherId = randomBytes(16).toString('base64url');
    expect(
      devices.recognise(
        edited(setCookie, () => [otherId, expires, mac]),
        'bob',
      ),
    ).toBeNull();
    expect(
      devices.recognise(
        edited(setCookie, () => [id, String(Number(expires) + 1), mac]),
        'bob',
      ),
    ).toBeNull();
    // A gateway with another key (one that never shared this stateDir).
    const stranger = new DeviceCookies(randomBytes(32), 30);
    expect(stranger.recognise(sentBack(setCookie), 'bob')).toBeNull();
    for (const header of [
      undefined,
      '',
      `${DEVICE_COOKIE}=`,
      `${DEVICE_COOKIE}=x.1.y`,
      `${DEVICE_COOKIE}=${id}`,
    ]) {
      expect(devices.recognise(header, 'bob')).toBeNull();
    }
    expect(() => new DeviceCookies(randomBytes(16), 30)).toThrow(TypeError);
  });

  it('ignores a cookie issued for another username', () => {
    const devices = new DeviceCookies(key, 30);
    const alices = sentBack(devices.issue('alice', null));
    expect(devices.recognise(alices, 'alice')).not.toBeNull();
    expect(devices.recognise(alices, 'bob')).toBeNull();
  });

  it('ignores an expired cookie, and one that outlives a maxAge lowered since it was issued', () => {
    const clock = manualClock();
    const devices = new DeviceCookies(key, 30, clock.now);
    const cookie = sentBack(devices.issue('bob', null));
    clock.advance(30 * 86_400_000 - 1000);
    expect(devices.recognise(cookie, 'bob')).not.toBeNull();
    clock.advance(1000);
    expect(devices.recognise(cookie, 'bob')).toBeNull();
    const fresh = sentBack(devices.issue('bob', null));
    expect(new DeviceCookies(key, 1, clock.now).recognise(fresh, 'bob')).toBeNull();
  });
});
