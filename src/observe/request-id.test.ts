import { describe, expect, it } from 'vitest';
import { requestId } from './request-id.js';

describe('requestId', () => {
  it('makes version 4 UUIDs, all different, across refills of its random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i += 1) {
      const id = requestId();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(2_000);
  });

  it('uses every hex digit in every random position (no stuck nibble)', () => {
    const ids = Array.from({ length: 600 }, () => requestId());
    for (let position = 0; position < 36; position += 1) {
      if ([8, 13, 14, 18, 23].includes(position)) continue; // dashes, version digit
      const digits = new Set(ids.map((id) => id[position]));
      expect(digits.size).toBeGreaterThanOrEqual(position === 19 ? 4 : 16);
    }
  });
});
