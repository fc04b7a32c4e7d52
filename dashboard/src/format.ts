import type { Journey, Threat } from './api.js';

/** The lesson's threat table as the dashboard shows it: each threat, the layer that stops it. */
export const THREAT_ROWS: readonly {
  readonly threat: Threat;
  readonly label: string;
  readonly layer: string;
}[] = [
  { threat: 'eavesdropping', label: 'Eavesdropping', layer: 'Transport: TLS only, plaintext refused' },
  { threat: 'fake-callers', label: 'Fake callers', layer: 'Authentication: API keys, JWT' },
  {
    threat: 'privilege-abuse',
    label: 'Privilege abuse',
    layer: 'Routing and authorization: contract, scopes',
  },
  { threat: 'brute-force', label: 'Brute force / DoS', layer: 'Limits: rates, logins, bans' },
  { threat: 'injection', label: 'Injection', layer: 'Validation: parameters and bodies' },
  {
    threat: 'information-leakage',
    label: 'Information leakage',
    layer: 'Response contract: filtered, replaced',
  },
];

/** 1234567 → "1,234,567"; big numbers stay readable at a glance. */
export function count(n: number): string {
  return n.toLocaleString('en');
}

/** The share `part` is of `whole`, as "12.5%" ("0%" when there is nothing). */
export function share(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const pct = (part * 100) / whole;
  return `${pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

/** How long ago `time` was, from `now` (ms): "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(time: number, now: number): string {
  const s = Math.max(0, Math.round((now - time) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** How long until `time`: "in 59 s", "in 14 min". */
export function until(time: number, now: number): string {
  return ago(now, time).replace(/ ago$/, '').replace(/^/, 'in ');
}

/** A request id as typed or pasted: trimmed, lowercased, a `urn:uuid:` prefix (a problem's `instance`) removed. */
export function requestIdFrom(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/^urn:uuid:/, '');
}

export type StepState = 'passed' | 'refused' | 'served';

/** A journey as steps: the stages it passed, then the one that decided (refused it, or served it). */
export function journeySteps(journey: Journey): { name: string; state: StepState }[] {
  const steps = journey.passed.map((name) => ({ name, state: 'passed' as StepState }));
  if (journey.decidedBy !== null) {
    steps.push({ name: journey.decidedBy, state: journey.code === null ? 'served' : 'refused' });
  }
  return steps;
}

/** The chart's data: x in seconds, and the two series, as uPlot wants them. */
export function chartData(series: {
  start: number;
  step: number;
  requests: readonly number[];
  refused: readonly number[];
}): [number[], number[], number[]] {
  const xs = series.requests.map((_, i) => series.start + i * series.step);
  return [xs, [...series.requests], [...series.refused]];
}
