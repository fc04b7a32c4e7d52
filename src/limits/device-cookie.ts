import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). A successful
 * login gives the browser a cookie that names a random device and is bound to the username; while
 * it lasts, that browser's attempts at that username count against the device instead of the
 * username. A guessing run from many addresses then locks the username for every client without
 * the cookie, but not the owner's own browser, and guesses sent with a cookie lock only its device.
 *
 * The value is `<device id>.<expiry>.<mac>`: 16 random bytes and the HMAC-SHA256 (both base64url),
 * the expiry in seconds since the epoch. The MAC covers `v1.<device id>.<expiry>.<username key>`
 * under the gateway's device key (device-key.ts): the username is bound but not carried, so the
 * cookie names nobody, and a cookie taken to another username does not verify. `__Host-` pins it
 * to this origin over HTTPS (no Domain, Path=/), HttpOnly keeps it from scripts, SameSite=Strict
 * off cross-site requests.
 */
export const DEVICE_COOKIE = '__Host-gatehouse-device';

const VALUE = /^([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;
/** Replicas' clocks may differ: a cookie from a clock this far ahead still counts as fresh. */
const CLOCK_SKEW_SEC = 300;
const MIN_KEY_BYTES = 32;

export class DeviceCookies {
  readonly #key: Buffer;
  readonly #maxAgeSec: number;
  readonly #now: () => number;
  readonly #attributes: string;

  constructor(key: Buffer, maxAgeDays: number, now: () => number = Date.now) {
    if (key.length < MIN_KEY_BYTES) throw new TypeError(`a device key needs ${MIN_KEY_BYTES} bytes at least`);
    if (!Number.isInteger(maxAgeDays) || maxAgeDays < 1)
      throw new TypeError('maxAgeDays must be a whole day or more');
    this.#key = key;
    this.#maxAgeSec = maxAgeDays * 86_400;
    this.#now = now;
    this.#attributes = `; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${this.#maxAgeSec}`;
  }

  /** Set-Cookie for a browser that logged in as `username` (a limiter key); its device id kept if it had one. */
  issue(username: string, deviceId: string | null): string {
    const id = deviceId ?? randomBytes(16).toString('base64url');
    const expires = String(this.#nowSec() + this.#maxAgeSec);
    return `${DEVICE_COOKIE}=${id}.${expires}.${this.#mac(id, expires, username)}${this.#attributes}`;
  }

  /**
   * The device id of a valid, unexpired device cookie for `username` in a Cookie header; null for
   * none, and for a forged, expired or another username's cookie alike (the client is told nothing).
   */
  recognise(cookieHeader: string | undefined, username: string): string | null {
    const match = VALUE.exec(cookieValue(cookieHeader) ?? '');
    if (match === null) return null;
    const id = match[1]!;
    const expires = match[2]!;
    const left = Number(expires) - this.#nowSec();
    // A cookie outliving maxAge (the setting was lowered since) is as good as expired.
    if (left <= 0 || left > this.#maxAgeSec + CLOCK_SKEW_SEC) return null;
    const expected = Buffer.from(this.#mac(id, expires, username), 'latin1');
    return timingSafeEqual(expected, Buffer.from(match[3]!, 'latin1')) ? id : null;
  }

  #mac(id: string, expires: string, username: string): string {
    // id and expiry hold no '.', so the username, last, cannot shift the fields before it.
    return createHmac('sha256', this.#key).update(`v1.${id}.${expires}.${username}`).digest('base64url');
  }

  #nowSec(): number {
    return Math.floor(this.#now() / 1000);
  }
}

/** The device cookie's value in a Cookie header (RFC 6265 §5.4), the first if it repeats; null when absent. */
function cookieValue(header: string | undefined): string | null {
  if (header === undefined || !header.includes(DEVICE_COOKIE)) return null;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === DEVICE_COOKIE) return pair.slice(at + 1).trim();
  }
  return null;
}
