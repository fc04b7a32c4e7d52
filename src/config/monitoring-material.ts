import type { LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { isRecord, type RawRecord } from './raw.js';
import { readSecretAt } from './secrets.js';
import { readOptionalCertificates } from './tls-material.js';

/** The secrets of `monitoring:`, read from their references. */
export interface MonitoringSecrets {
  readonly scrapeToken: string | null;
  readonly alertSecret: string | null;
  readonly alertCa: string | null;
}

/** Shorter than this, a scrape token or an HMAC key is a password someone chose, not a random secret. */
export const MIN_MONITORING_SECRET_CHARS = 32;

/**
 * Resolves `monitoring.scrapeToken`, `monitoring.alerts.webhook.secret` (the HMAC key alerts are
 * signed with) and the webhook's CA bundle. Every problem is added to `issues` with its path.
 */
export async function loadMonitoringSecrets(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<MonitoringSecrets> {
  const monitoring = isRecord(data) && isRecord(data.monitoring) ? data.monitoring : {};
  const scrapeToken = await secretAt(monitoring, ['monitoring', 'scrapeToken'], ctx, issues);
  const alerts = isRecord(monitoring.alerts) ? monitoring.alerts : {};
  const webhook = isRecord(alerts.webhook) ? alerts.webhook : {};
  const at: ConfigPath = ['monitoring', 'alerts', 'webhook'];
  const alertSecret = await secretAt(webhook, [...at, 'secret'], ctx, issues);
  const alertCa = (await readOptionalCertificates(webhook, [...at, 'ca'], ctx, issues)) ?? null;
  return { scrapeToken, alertSecret, alertCa };
}

async function secretAt(
  section: RawRecord,
  at: ConfigPath,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string | null> {
  const secret = (await readSecretAt(section, at, ctx, issues))?.trim() ?? null;
  if (secret === null || secret.length >= MIN_MONITORING_SECRET_CHARS) return secret;
  issues.add(
    at,
    `names a secret shorter than ${MIN_MONITORING_SECRET_CHARS} characters`,
    'use a random value, e.g. the output of: openssl rand -hex 32',
  );
  return null;
}
