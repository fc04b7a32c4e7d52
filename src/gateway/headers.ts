/** Whether a comma-separated header value (such as Connection) names `token`, case-insensitively. */
export function listsToken(value: string, token: string): boolean {
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}
