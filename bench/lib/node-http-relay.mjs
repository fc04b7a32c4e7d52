// Target (h): the least a Node.js HTTP proxy can do for this traffic, as a second floor. As the
// byte relay (node-relay.mjs), each client connection gets its own kept-alive mTLS connection to
// the upstream; unlike it, every request and every response is parsed by llhttp through Node's
// own binding (as Gatehouse and Node's http module parse) and its head built again before it is
// written on: hop-by-hop fields and the API key dropped, the body framed by Content-Length. No
// check of any kind: no key lookup, no limit, no validation, no log. It also leaves out what a
// proxy facing the internet needs and the bench's traffic never tests: timeouts, back-pressure,
// fields named by Connection, HEAD, 204 and 304 answers, answers delimited by the end of the
// connection, a pool of upstream connections. What it costs over the byte relay is what parsing
// and rebuilding HTTP/1.1 costs in Node.js; what Gatehouse costs beyond it is its pipeline, its
// checks and those basics.
import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import { listenPaired, upstream } from './relay-pair.mjs';

const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common');
/** Fields not passed on: hop-by-hop ones, the framing (stated again), and the credential. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'x-api-key',
]);

/** A strict llhttp parser that hands each whole message (head and joined body) to `onMessage`. */
function messageParser(type, onMessage) {
  const parser = new HTTPParser();
  parser.initialize(type, {}, 16_384, HTTPParser.kLenientNone);
  let head = null;
  let body = [];
  // A head of over 32 fields comes in parts, the last with headers-complete.
  let early = [];
  let earlyUrl = '';
  parser[HTTPParser.kOnHeaders] = (fields, url) => {
    early.push(...fields);
    earlyUrl += url ?? '';
  };
  parser[HTTPParser.kOnHeadersComplete] = (major, minor, fields = [], method, url = '', status) => {
    if (early.length > 0 || earlyUrl !== '') {
      head = { fields: [...early, ...fields], method, url: earlyUrl + url, status };
      early = [];
      earlyUrl = '';
    } else head = { fields, method, url, status };
    return 0;
  };
  // Node hands each body chunk over in a Buffer of its own: kept as it is, as Gatehouse keeps it.
  parser[HTTPParser.kOnBody] = (chunk) => {
    body.push(chunk);
    return 0;
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    const joined = body.length === 0 ? null : body.length === 1 ? body[0] : Buffer.concat(body);
    body = [];
    onMessage(head, joined);
    return 0;
  };
  return parser;
}

/** The head's fields that pass, then the body's length, as header lines. */
function fieldLines(fields, body) {
  let lines = '';
  for (let i = 0; i < fields.length; i += 2)
    if (!DROPPED.has(fields[i].toLowerCase())) lines += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `${lines}content-length: ${body === null ? 0 : body.length}\r\n\r\n`;
}

/** Head and body as one write. */
function send(socket, head, body) {
  if (body === null) return socket.write(head, 'latin1');
  socket.cork();
  socket.write(head, 'latin1');
  socket.write(body);
  socket.uncork();
}

listenPaired((client, hop, close) => {
  const requests = messageParser(HTTPParser.REQUEST, ({ fields, method, url }, body) => {
    send(
      hop,
      `${methods[method]} ${url} HTTP/1.1\r\nhost: ${upstream.host}\r\n${fieldLines(fields, body)}`,
      body,
    );
  });
  const responses = messageParser(HTTPParser.RESPONSE, ({ fields, status }, body) => {
    send(
      client,
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${fieldLines(fields, body)}`,
      body,
    );
  });
  const parse = (parser) => (chunk) => {
    if (typeof parser.execute(chunk) !== 'number') close();
  };
  client.on('data', parse(requests));
  hop.on('data', parse(responses));
});
