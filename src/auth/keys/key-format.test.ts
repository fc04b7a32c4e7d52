import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_LENGTH,
  API_KEY_SCANNER_REGEX,
  checkKeyShape,
  containsApiKeyShape,
  envOf,
  generateApiKey,
  hashApiKey,
  keyIdOf,
  KEY_ID_PATTERN,
} from './key-format.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('API key format', () => {
  it('makes 47-character keys with prefix, env tag, random part and checksum', () => {
    const live = generateApiKey('live');
    const test = generateApiKey('test');
    expect(live).toMatch(/^gk_live_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    expect(test).toMatch(/^gk_test_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    expect(live).toHaveLength(API_KEY_LENGTH);
    expect(checkKeyShape(live)).toBeNull();
    expect(envOf(live)).toBe('live');
    expect(envOf(test)).toBe('test');
  });

  it('uses the standard CRC-32 (zlib) over gk_<env>_<random>, as 6 base62 digits', () => {
    for (let i = 0; i < 200; i += 1) {
      const key = generateApiKey(i % 2 ? 'live' : 'test');
      const digits = [...key.slice(41)].reduce((value, char) => value * 62 + BASE62.indexOf(char), 0);
      expect(digits).toBe(crc32(key.slice(0, 40)));
    }
  });

  it('draws the random part uniformly over base62 (no digit favoured by a modulo bias)', () => {
    const counts = new Map<string, number>();
    const keys = 4000;
    for (let i = 0; i < keys; i += 1) {
      for (const char of generateApiKey('live').slice(8, 40)) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (keys * 32) / 62;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.15);
  });

  it('never repeats a key', () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => generateApiKey('live')));
    expect(seen.size).toBe(10_000);
  });

  it('refuses any single-character typo by checksum or shape, before any lookup', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('live' as const, 'test' as const),
        fc.nat(),
        fc.nat(61),
        (env, position, shift) => {
          const key = generateApiKey(env);
          const at = 8 + (position % 39); // the random part and the checksum
          if (key[at] === '_') return;
          const replaced = BASE62[(BASE62.indexOf(key[at]!) + 1 + shift) % 62]!;
          if (replaced === key[at]) return;
          const typo = key.slice(0, at) + replaced + key.slice(at + 1);
          expect(checkKeyShape(typo)).toBe('checksum');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses swapped neighbours (a common typo) by checksum', () => {
    let refused = 0;
    for (let i = 0; i < 500; i += 1) {
      const key = generateApiKey('live');
      const at = 8 + (i % 31);
      if (key[at] === key[at + 1]) continue;
      const swapped = key.slice(0, at) + key[at + 1] + key[at] + key.slice(at + 2);
      expect(checkKeyShape(swapped)).toBe('checksum');
      refused += 1;
    }
    expect(refused).toBeGreaterThan(400);
  });

  it('refuses truncated, padded, re-tagged and foreign strings as malformed', () => {
    const key = generateApiKey('live');
    for (const cut of [1, 6, 7, 20, 46]) expect(checkKeyShape(key.slice(0, cut))).toBe('malformed');
    expect(checkKeyShape(`${key} `)).toBe('malformed');
    expect(checkKeyShape(` ${key}`)).toBe('malformed');
    expect(checkKeyShape(`Bearer ${key}`)).toBe('malformed');
    expect(checkKeyShape(key.replace('gk_live_', 'gk_prod_'))).toBe('malformed');
    expect(checkKeyShape(key.replace('gk_', 'GK_'))).toBe('malformed');
    expect(checkKeyShape(key.slice(0, 20) + '-' + key.slice(21))).toBe('malformed');
    expect(checkKeyShape('')).toBe('malformed');
    expect(checkKeyShape('x'.repeat(100_000))).toBe('malformed');
    // Same characters, other environment: the checksum covers the tag.
    expect(checkKeyShape(key.replace('gk_live_', 'gk_test_'))).toBe('checksum');
  });

  it('is found by the documented scanner regex inside text, and nothing else is', () => {
    const key = generateApiKey('test');
    const text = `config:\n  API_KEY="${key}" # do not commit\nother gk_live_short_123456`;
    expect([...text.matchAll(new RegExp(API_KEY_SCANNER_REGEX.source, 'g'))].map((m) => m[0])).toEqual([key]);
    expect(API_KEY_SCANNER_REGEX.test(text)).toBe(true);
    expect(API_KEY_SCANNER_REGEX.test(text)).toBe(true); // no lastIndex state between calls
  });

  it('spots a key-shaped value in a query string, encoded or not', () => {
    const key = generateApiKey('live');
    expect(containsApiKeyShape(`a=1&api_key=${key}`)).toBe(true);
    expect(containsApiKeyShape(`key=${encodeURIComponent(key)}&x=y`)).toBe(true);
    expect(containsApiKeyShape(`key=${key.slice(0, 44)}ZZZ`)).toBe(true);
    expect(containsApiKeyShape('q=gk_live_short&page=2')).toBe(false);
  });

  it('derives a stable 16-hex-digit id from the SHA-256 of the key', () => {
    const key = generateApiKey('live');
    const digest = hashApiKey(key);
    expect(digest).toHaveLength(32);
    expect(keyIdOf(digest)).toMatch(KEY_ID_PATTERN);
    expect(keyIdOf(hashApiKey(key))).toBe(keyIdOf(digest));
    expect(key).not.toContain(keyIdOf(digest));
  });
});
