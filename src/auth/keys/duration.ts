const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,5}|0)(s|m|h|d)$/;

/**
 * Parses a short duration (`90d`, `24h`, `30m`, `45s`) into milliseconds; null when it is not one.
 * Kept to these four units so that `--expires 90d` cannot be misread (no months, no fractions).
 */
export function parseDuration(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const match = DURATION.exec(text);
  if (match === null) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export const DURATION_HINT = 'write a whole number and a unit: s, m, h or d (e.g. 90d, 24h)';
