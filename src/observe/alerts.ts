import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import type { AlertWebhookConfig } from '../config/types.js';

/** What a receiver gets: JSON, the detection and when. */
export interface Alert {
  readonly detector: string;
  readonly subjectKind: string;
  readonly subject: string;
  readonly count: number;
  readonly threshold: number;
  readonly windowMs: number;
  /** The ban the detector set, when it set one. */
  readonly banId: string | null;
  readonly eventId: number;
  readonly time: string;
}

/** Where an alert's fate is told (the log): sent, retried, dropped by the rate limit or a duplicate, or failed. */
export interface AlertLog {
  info(fields: Record<string, unknown>): void;
  warn(fields: Record<string, unknown>): void;
}

/** The first retry waits this; each next one twice as long. */
const FIRST_RETRY_MS = 500;

/**
 * POSTs alerts to the configured webhook. The body is signed with HMAC-SHA256 over
 * `<timestamp>.<body>` (header `Gatehouse-Signature: t=<unix seconds>,v1=<hex>`), so a receiver
 * can check both that it came from this gateway and that it is fresh. A failed delivery (network
 * error, 429 or 5xx) is retried with doubling waits; the same detector and subject alert once per
 * `dedupMs`; at most `maxPerMinute` go out. Every outcome is logged: an alert is never lost
 * silently, and never delays a request.
 */
export class AlertSender {
  readonly #config: AlertWebhookConfig;
  readonly #log: AlertLog;
  readonly #dispatcher: Agent;
  readonly #recent = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #minuteStart = 0;
  #sentThisMinute = 0;
  #closed = false;

  constructor(config: AlertWebhookConfig, log: AlertLog) {
    this.#config = config;
    this.#log = log;
    this.#dispatcher = new Agent({
      connect: { timeout: config.timeoutMs, ...(config.ca === null ? {} : { ca: config.ca }) },
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
    });
  }

  /** Queues an alert; false when it was held back (a duplicate, or over the rate). */
  send(alert: Alert): boolean {
    const now = Date.now();
    const key = `${alert.detector}\u0000${alert.subject}`;
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < this.#config.dedupMs) {
      this.#log.info({
        msg: 'alert not sent: same detector and subject alerted recently',
        detector: alert.detector,
        eventId: alert.eventId,
      });
      return false;
    }
    if (now - this.#minuteStart >= 60_000) {
      this.#minuteStart = now;
      this.#sentThisMinute = 0;
    }
    if (this.#sentThisMinute >= this.#config.maxPerMinute) {
      this.#log.warn({
        msg: 'alert not sent: alerts per minute exceeded',
        detector: alert.detector,
        eventId: alert.eventId,
      });
      return false;
    }
    this.#sentThisMinute += 1;
    this.#remember(key, now);
    void this.#deliver(JSON.stringify(alert), alert, 0);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#dispatcher.close();
  }

  async #deliver(body: string, alert: Alert, attempt: number): Promise<void> {
    if (this.#closed) return;
    const outcome = await this.#post(body);
    if (outcome === 'delivered') {
      this.#log.info({ msg: 'alert delivered', detector: alert.detector, eventId: alert.eventId, attempt });
      return;
    }
    if (outcome === 'refused' || attempt >= this.#config.retries) {
      this.#log.warn({
        msg: 'alert not delivered',
        detector: alert.detector,
        eventId: alert.eventId,
        attempt,
        outcome,
      });
      return;
    }
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        void this.#deliver(body, alert, attempt + 1);
      },
      FIRST_RETRY_MS * 2 ** attempt,
    );
    timer.unref();
    this.#timers.add(timer);
  }

  /** delivered (2xx), refused (another 4xx: retrying will not help), or failed (worth a retry). */
  async #post(body: string): Promise<'delivered' | 'refused' | 'failed'> {
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = alertSignature(this.#config.secret, timestamp, body);
    try {
      const response = await request(this.#config.url, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        headers: {
          'content-type': 'application/json',
          'gatehouse-signature': `t=${timestamp},v1=${signature}`,
        },
        body,
      });
      await response.body.dump();
      const status = response.statusCode;
      if (status >= 200 && status < 300) return 'delivered';
      return status === 429 || status >= 500 ? 'failed' : 'refused';
    } catch {
      return 'failed';
    }
  }

  #remember(key: string, now: number): void {
    this.#recent.set(key, now);
    if (this.#recent.size <= 10_000) return;
    for (const [k, at] of this.#recent) if (now - at >= this.#config.dedupMs) this.#recent.delete(k);
  }
}

/** The signature a receiver computes to check an alert: hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function alertSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
