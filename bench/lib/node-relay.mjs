// Target (n): the least a Node.js TLS proxy can do for this traffic, as a floor for the others.
// Each client connection gets its own kept-alive mTLS connection to the upstream (verified against
// the dev CA), and bytes are copied both ways as they arrive: no HTTP parsing, no check, nothing
// rewritten (the client's X-API-Key reaches the upstream, which ignores it). It serves one request
// at a time per connection only because wrk sends one at a time. What it costs per request is what
// Node's TLS and streams cost for two hops; what Gatehouse costs beyond it is its HTTP handling
// (parsing both messages, building both heads) and its checks.
import { listenPaired } from './relay-pair.mjs';

listenPaired((client, hop) => {
  client.on('data', (chunk) => hop.write(chunk));
  hop.on('data', (chunk) => client.write(chunk));
});
