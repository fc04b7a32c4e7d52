/**
 * The strict outer shape of a JWS Compact Serialization (RFC 7515 §7.1), checked before any
 * decoding: three segments, none empty, each strict base64url (RFC 7515 §2, RFC 4648 §5 without
 * padding). jose decodes leniently (whitespace, non-zero trailing bits), so two different strings
 * could verify as one token; here anything but the one canonical encoding is refused. This is a
 * character check, not a parser: decoding and verification are jose's.
 */

/** Why `token` is not a canonical compact JWS of at most `maxBytes`; null when its shape is right. */
export function compactJwsProblem(token: string, maxBytes: number): string | null {
  if (token.length > maxBytes) return `token of ${token.length} bytes is over the ${maxBytes}-byte bound`;
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) {
    return 'not three dot-separated segments (a JWE or a mangled token)';
  }
  return (
    segmentProblem(token, 0, first, 'header') ??
    segmentProblem(token, first + 1, second, 'payload') ??
    segmentProblem(token, second + 1, token.length, 'signature')
  );
}

function segmentProblem(token: string, start: number, end: number, name: string): string | null {
  const length = end - start;
  // An empty signature is what `alg: none` produces (RFC 7519 §6.1): refused here already.
  if (length === 0) return `empty ${name} segment`;
  for (let i = start; i < end; i += 1) {
    if (sextet(token.charCodeAt(i)) < 0) return `${name} segment is not strict base64url`;
  }
  // RFC 4648 §3.5: the bits after the last full byte must be zero in the canonical encoding.
  const rest = length % 4;
  const last = sextet(token.charCodeAt(end - 1));
  if (rest === 1) return `${name} segment has an impossible base64url length`;
  if ((rest === 2 && (last & 0x0f) !== 0) || (rest === 3 && (last & 0x03) !== 0)) {
    return `${name} segment is not canonical base64url (non-zero trailing bits)`;
  }
  return null;
}

/** The 6-bit value of a base64url character (RFC 4648 §5), or -1 for any other character. */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  if (code === 45) return 62; // -
  if (code === 95) return 63; // _
  return -1;
}
