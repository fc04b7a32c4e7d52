/**
 * Media types as the contract declares them (OpenAPI Media Type Object keys, which may be ranges
 * such as `application/*`) matched against a Content-Type header (RFC 9110 §8.3.1: type and
 * subtype are case-insensitive; parameters follow a ";").
 */

/** The last header mediaTypeEssence read and its response: an API's answers mostly repeat one value. */
let lastHeader = '';
let lastEssence: string | null = null;

/** `application/json; charset=utf-8` → `application/json`; null when there is no usable type. */
export function mediaTypeEssence(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (header === lastHeader) return lastEssence;
  const semicolon = header.indexOf(';');
  const essence = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  lastEssence = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence) ? essence : null;
  lastHeader = header;
  return lastEssence;
}

/** JSON media types: application/json and any `+json` structured syntax suffix (RFC 6839 §3.1). */
export function isJsonMediaType(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}

/**
 * Finds the declared entry for a concrete media type: the exact one first, then `type/*`, then
 * `*\/*` (OpenAPI: "the most specific key is applicable"). `declared` holds lowercase keys.
 */
export function matchMediaType<T>(declared: ReadonlyMap<string, T>, essence: string): T | undefined {
  const exact = declared.get(essence);
  if (exact !== undefined) return exact;
  const range = declared.get(essence.slice(0, essence.indexOf('/')) + '/*');
  return range !== undefined ? range : declared.get('*/*');
}

/** The charset parameter of a Content-Type, lowercase, or null when none is given. */
export function charsetOf(header: string): string | null {
  if (!header.includes(';')) return null;
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(header);
  return match === null ? null : match[1]!.toLowerCase();
}
