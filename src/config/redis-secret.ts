import type { LoadContext } from './files.js';
import type { IssueList } from './issues.js';
import { isRecord } from './raw.js';
import { readStoreUrl } from './store-url.js';

/** The Redis URL of the limits and bans (`redis.url`), under the rule of every store URL (store-url.ts). */
export async function loadLimitsRedisUrl(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string | null> {
  if (!isRecord(data) || !isRecord(data.redis)) return null;
  return readStoreUrl(data.redis, ['redis', 'url'], 'redis', ctx, issues);
}
