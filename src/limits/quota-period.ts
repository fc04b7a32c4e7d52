import type { QuotaPeriod } from './rule.js';

export interface PeriodWindow {
  /** Which period (hours, days or months since the epoch, UTC): part of the quota's key. */
  readonly index: number;
  /** When it ends, ms since the epoch: the count's reset time and its key's expiry. */
  readonly endMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

let month: PeriodWindow & { readonly startMs: number } = { index: -1, startMs: 0, endMs: 0 };

/** The calendar period (UTC) that `nowMs` falls in. */
export function quotaWindow(period: QuotaPeriod, nowMs: number): PeriodWindow {
  if (period === 'hour') return fixed(nowMs, HOUR_MS);
  if (period === 'day') return fixed(nowMs, DAY_MS);
  if (nowMs < month.startMs || nowMs >= month.endMs) month = monthOf(nowMs);
  return month;
}

function fixed(nowMs: number, lengthMs: number): PeriodWindow {
  const index = Math.floor(nowMs / lengthMs);
  return { index, endMs: (index + 1) * lengthMs };
}

function monthOf(nowMs: number): PeriodWindow & { readonly startMs: number } {
  const date = new Date(nowMs);
  const [year, monthOfYear] = [date.getUTCFullYear(), date.getUTCMonth()];
  return {
    index: year * 12 + monthOfYear,
    startMs: Date.UTC(year, monthOfYear, 1),
    endMs: Date.UTC(year, monthOfYear + 1, 1),
  };
}
