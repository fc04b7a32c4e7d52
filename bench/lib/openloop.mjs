// A small open-loop (fixed-rate) load generator: wrk is closed-loop and wrk2 is not packaged.
// Requests are issued on a fixed schedule whatever the answers do, over one undici Pool of
// kept-alive TLS connections (warmed up first). Latency is reported two ways: from each request's
// *scheduled* time (no coordinated omission: a stalled server is charged for the requests it
// delayed; includes up to ~1-2 ms of the generator's own timer granularity) and from its actual send.
import { Pool } from 'undici';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

async function phase(pool, { rate, seconds, connections, headers }) {
  const total = Math.round(rate * seconds);
  const fromSchedule = new Float64Array(total);
  const fromSend = new Float64Array(total);
  const maxInFlight = connections * 20; // beyond this the target is overloaded: stop
  let sent = 0;
  let done = 0;
  let inFlight = 0;
  let non2xx = 0;
  let errors = 0;
  let aborted = false;

  const fire = (i, scheduled) => {
    inFlight++;
    const sentAt = performance.now();
    pool
      .request({ method: 'GET', path: `/items/${(i % 1000) + 1}`, headers })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
      })
      .catch(() => errors++)
      .finally(() => {
        const now = performance.now();
        fromSchedule[done] = now - scheduled;
        fromSend[done++] = now - sentAt;
        inFlight--;
      });
  };

  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) fire(sent, start + (sent * 1000) / rate);
    if (inFlight > maxInFlight) {
      aborted = true;
      break;
    }
    await sleep(1);
  }
  const deadline = performance.now() + 10_000;
  while (done < sent && performance.now() < deadline) await sleep(5);
  const elapsed = (performance.now() - start) / 1000;

  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const sched = fromSchedule.slice(0, done).sort();
  const send = fromSend.slice(0, done).sort();
  return {
    targetRate: rate,
    achievedRate: done / elapsed,
    requests: done,
    p50Ms: pct(sched, 50),
    p90Ms: pct(sched, 90),
    p99Ms: pct(sched, 99),
    maxMs: sched[sched.length - 1],
    p50FromSendMs: pct(send, 50),
    p99FromSendMs: pct(send, 99),
    non2xx,
    errors,
    unfinished: sent - done,
    aborted,
  };
}

/** Warm up (same pool, same rate), then measure; onMeasure(start|end) brackets the measured phase. */
export async function openLoop({
  port,
  rate,
  seconds,
  warmupSeconds,
  connections,
  headers = {},
  onMeasure = () => {},
}) {
  const pool = new Pool(`https://127.0.0.1:${port}`, {
    connections,
    pipelining: 1,
    connect: { rejectUnauthorized: false },
  });
  try {
    if (warmupSeconds > 0) await phase(pool, { rate, seconds: warmupSeconds, connections, headers });
    onMeasure('start');
    const result = await phase(pool, { rate, seconds, connections, headers });
    onMeasure('end');
    return {
      generator: 'bench/lib/openloop.mjs (undici Pool, open loop, in the harness process)',
      ...result,
    };
  } finally {
    await pool.destroy();
  }
}
