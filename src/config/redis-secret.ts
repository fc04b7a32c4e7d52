import type { LoadContext } from './files.js';
import type { IssueList } from './issues.js';
import { isRecord, stringIn } from './raw.js';
import { readSecretRef } from './secrets.js';

const AT = ['redis', 'url'];
const PLAIN_URL = /^rediss?:\/\//;

/**
 * The Redis URL of the limits (`redis.url`): a plain redis:// URL without a password, or an
 * env:NAME / file:PATH reference to one that may carry it. No message repeats the URL.
 */
export async function loadLimitsRedisUrl(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string | null> {
  const section = isRecord(data) && isRecord(data.redis) ? data.redis : null;
  const raw = section === null ? undefined : stringIn(section, 'url');
  if (raw === undefined || raw === '') return null; // absent, or the schema reported it
  let url = raw;
  if (!PLAIN_URL.test(raw)) {
    const read = await readSecretRef(raw, ctx);
    if ('message' in read) {
      issues.add(AT, read.message, `${read.hint}; or write a plain redis://host:port URL`);
      return null;
    }
    url = read.secret.trim();
  } else if (hasPassword(raw)) {
    issues.add(
      AT,
      'holds a password inline',
      'put the URL in an environment variable and write url: env:REDIS_URL',
    );
    return null;
  }
  return checkRedisUrl(url, issues);
}

function checkRedisUrl(url: string, issues: IssueList): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    issues.add(AT, 'does not hold an absolute URL', 'write redis://host:6379 (or rediss:// for TLS)');
    return null;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    issues.add(AT, `uses ${parsed.protocol}// instead of redis:// or rediss://`, 'write redis://host:6379');
    return null;
  }
  return url;
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}
