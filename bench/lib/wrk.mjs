// Run wrk and parse its `--latency` report.
import { runToEnd } from './proc.mjs';

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** "812.00us" | "1.25ms" | "2.00s" → milliseconds */
export function parseDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`cannot parse wrk duration "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Parse wrk's text report; throws if the parts we rely on are missing. */
export function parseWrk(out) {
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk output has no ${p}% line:\n${out}`);
    return parseDuration(m[1]);
  };
  const total = /^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m.exec(out);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (!total || !rps) throw new Error(`unexpected wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = sock
    ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] }
    : null;
  return {
    requests: Number(total[1]),
    seconds: (Number(total[2]) * UNIT_MS[total[3]]) / 1000,
    rps: Number(rps[1]),
    p50Ms: pct(50),
    p75Ms: pct(75),
    p90Ms: pct(90),
    p99Ms: pct(99),
    non2xx: bad ? Number(bad[1]) : 0, // wrk counts status >= 400 here
    socketErrors: socketErrors ? Object.values(socketErrors).reduce((a, b) => a + b, 0) : 0,
    socketErrorDetail: socketErrors,
  };
}

export async function runWrk({ port, seconds, connections, script }) {
  const out = await runToEnd('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    script,
    `https://127.0.0.1:${port}/`,
  ]);
  return parseWrk(out);
}
