import type { BanKind, BanList } from '../../limits/bans.js';
import { banRefusal } from '../../limits/bans.js';

/** Throws the generic 403 when `value` is banned (src/limits/bans.ts). */
export function refuseIfBanned(bans: BanList, kind: BanKind, value: string): void {
  const ban = bans.check(kind, value);
  if (ban !== null) throw banRefusal(ban);
}
