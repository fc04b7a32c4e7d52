import { createRequire } from 'node:module';

/**
 * Node's own binding to llhttp, the parser its HTTP client and server use, reached through
 * `_http_common` as Node's http client does. Parsing upstream answers with it keeps the strict,
 * well-tested parser (duplicate Content-Length, Transfer-Encoding with Content-Length, bad chunk
 * sizes, oversized headers: all refused) while skipping the per-request stream objects of
 * `http.request` and undici's WebAssembly round trips.
 */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): number | ParseError | undefined;
  close(): void;
  [callback: number]: unknown;
}

export interface ParseError extends Error {
  code?: string;
  reason?: string;
}

interface ParserConstructor {
  new (): LlhttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

function loadParser(): { HTTPParser: ParserConstructor; methods: readonly string[] } {
  const common = createRequire(import.meta.url)('_http_common') as {
    HTTPParser?: ParserConstructor;
    methods?: readonly string[];
  };
  const parser = common.HTTPParser;
  const methods = common.methods;
  if (
    typeof parser !== 'function' ||
    typeof parser.kOnHeadersComplete !== 'number' ||
    !Array.isArray(methods)
  ) {
    throw new TypeError(
      `this Node.js (${process.version}) has no usable HTTP parser binding; use Node.js 20 or 22`,
    );
  }
  return { HTTPParser: parser, methods };
}

/** The parser, and the method names its request callbacks give by index. */
export const { HTTPParser, methods: PARSER_METHODS } = loadParser();
