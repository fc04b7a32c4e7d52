import { createRequire } from 'node:module';

/**
 * Node's own binding to llhttp, the parser its HTTP client and server use, reached through
 * `_http_common` as Node's http client does. Parsing upstream responses with it keeps the strict,
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

/**
 * `_http_common` is internal to Node and documented as deprecated: its shape may change in any
 * major. Before the gateway trusts it with a single request, it must parse a canned request and
 * answer exactly as expected (callbacks, their arguments, strict refusals); if it does not, the
 * gateway refuses to start with a message that says so, instead of misreading traffic.
 */
export function checkParserBinding(): void {
  const problem = bindingProblem();
  if (problem !== null) {
    throw new TypeError(
      `the HTTP parser binding of this Node.js (${process.version}) does not behave as Gatehouse expects (${problem}); run Gatehouse on Node.js 20, 22, 24 or 26 as released`,
    );
  }
}

function bindingProblem(): string | null {
  const request = parseCanned(
    HTTPParser.REQUEST,
    'POST /a?b=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  );
  if (typeof request === 'string') return `request: ${request}`;
  const { head, body } = request;
  if (PARSER_METHODS[head.method] !== 'POST') return `request method index ${String(head.method)}`;
  if (head.url !== '/a?b=1' || head.major !== 1 || head.minor !== 1) return 'request line';
  if (head.fields.join('|') !== 'Host|x|Transfer-Encoding|chunked') return 'request headers';
  if (body !== 'abc') return 'chunked request body';
  const response = parseCanned(HTTPParser.RESPONSE, 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
  if (typeof response === 'string') return `answer: ${response}`;
  if (response.head.status !== 201 || response.body !== 'ok') return 'answer status or body';
  const smuggled = parseCanned(
    HTTPParser.REQUEST,
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  );
  if (typeof smuggled !== 'string') return 'Content-Length with Transfer-Encoding was not refused';
  return null;
}

interface CannedHead {
  major: number;
  minor: number;
  fields: string[];
  method: number;
  url: string;
  status: number;
}

function parseCanned(type: number, text: string): { head: CannedHead; body: string } | string {
  const parser = new HTTPParser();
  parser.initialize(type, {}, 16_384, HTTPParser.kLenientNone);
  let head: CannedHead | null = null;
  let body = '';
  let complete = false;
  parser[HTTPParser.kOnHeaders] = () => undefined;
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    fields: string[],
    method: number,
    url: string,
    status: number,
  ) => {
    head = { major, minor, fields: [...fields], method, url: url ?? '', status };
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    body += chunk.toString('latin1');
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    complete = true;
  };
  try {
    const result = parser.execute(Buffer.from(text, 'latin1'));
    if (typeof result !== 'number') return `refused (${result.code ?? 'no code'})`;
  } catch (err) {
    return `threw ${(err as Error).message}`;
  } finally {
    parser.close();
  }
  if (head === null || !complete) return 'callbacks not called';
  return { head, body };
}
