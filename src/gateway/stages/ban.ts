import type { BanKind, BanList } from '../../observe/bans.js';
import { banRefusal } from '../../observe/bans.js';

/** Throws the generic 403 when `value` is banned (src/observe/bans.ts). */
export function refuseIfBanned(bans: BanList, kind: BanKind, value: string): void {
  const ban = bans.check(kind, value);
  if (ban !== null) throw banRefusal(ban);
}
