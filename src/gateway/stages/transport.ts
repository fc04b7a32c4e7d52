import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { LimitsConfig } from '../../config/types.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Headers a request may carry once: a second copy would let the gateway check one value while the
 * upstream acts on the other (RFC 9110 §5.3: only list-valued fields may repeat).
 */
const SINGLE_HEADERS = ['host', 'content-type', 'content-length', 'authorization', 'idempotency-key'];

/**
 * What the transport can still refuse once the parser has accepted the request line and headers
 * (header size and timeouts are enforced by the listener itself, see listener.ts):
 * - a header that may appear once appearing twice (400): `Host`, `Content-Type`,
 *   `Content-Length`, `Authorization`, `Idempotency-Key` and every API-key header of the contract
 *   (header parameters the contract declares are checked by the validate stage);
 * - a transfer coding other than `chunked` (501, RFC 9112 §6.1): the gateway reads the body it
 *   checks as it arrives, and does not decode others;
 * - a content coding (415): a body is checked as it arrives, never decompressed, so a coded body
 *   would reach the upstream as bytes nobody checked;
 * - a declared body over the limit (413), before a byte of it is read.
 */
export function createTransportStage(limits: LimitsConfig, apiKeyHeaders: readonly string[] = []): Stage {
  const maxBodyBytes = limits.maxBodyBytes;
  const single = new Set([...SINGLE_HEADERS, ...apiKeyHeaders.map((name) => name.toLowerCase())]);
  return {
    name: 'transport',
    onRequest: function checkTransport(ctx: RequestContext): void {
      const repeated = repeatedHeader(ctx.req.rawHeaders, single);
      if (repeated !== null)
        throw new GatehouseError('GH_TRANSPORT_BAD_REQUEST', `header ${repeated} sent more than once`);
      if (!ctx.req.hasBody) return;
      const coding = ctx.req.header('transfer-encoding');
      if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
        throw new GatehouseError('GH_TRANSPORT_NOT_IMPLEMENTED', `transfer coding ${coding.slice(0, 64)}`);
      }
      const encoding = ctx.req.header('content-encoding');
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        throw new GatehouseError(
          'GH_VALIDATE_MEDIA_TYPE',
          `content coding ${encoding.slice(0, 64)}: no operation takes one`,
        );
      }
      const declared = ctx.req.header('content-length');
      if (declared !== undefined && Number(declared) > maxBodyBytes) {
        throw new GatehouseError('GH_TRANSPORT_BODY_TOO_LARGE', `declared body of ${declared} bytes`);
      }
    },
  };
}

/** The first name of `single` that `raw` (name, value, …) holds twice; null when none. Allocates nothing. */
function repeatedHeader(raw: readonly string[], single: ReadonlySet<string>): string | null {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!single.has(name)) continue;
    for (let j = i + 2; j < raw.length; j += 2) {
      if (raw[j]!.length === name.length && raw[j]!.toLowerCase() === name) return name;
    }
  }
  return null;
}
