const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,8})(ms|s|m|h|d)$/;

/** "250ms", "1s", "15m", "1d" → milliseconds. The config schema has checked the form already. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (match === null) throw new TypeError(`"${text}" is not a duration such as 500ms, 1s, 1m, 1h or 1d`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The schema of a duration field: a whole number and a unit, with an example in the hint. */
export const durationSchema = (example: string) =>
  ({
    type: 'string',
    pattern: '^[1-9][0-9]{0,8}(ms|s|m|h|d)$',
    examples: [example],
    hint: `write a whole number and a unit (ms, s, m, h or d), e.g. ${example}`,
  }) as const;
