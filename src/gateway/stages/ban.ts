import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { BanKind, BanList } from '../../limits/bans.js';

/**
 * Throws the generic 403 when `value` is banned. The client learns only that it is forbidden;
 * the journey and the `access.banned` event say which ban, set by whom, until when.
 */
export function refuseIfBanned(bans: BanList, kind: BanKind, value: string): void {
  const ban = bans.check(kind, value);
  if (ban === null) return;
  throw new GatehouseError(
    'GH_ACCESS_BANNED',
    `${kind} banned until ${new Date(ban.expiresAt).toISOString()} (ban ${ban.id}, ${ban.reason})`,
  );
}
