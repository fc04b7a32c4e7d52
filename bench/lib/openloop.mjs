// The open-loop (fixed-rate) latency check: wrk is closed-loop and wrk2 is not packaged. The
// generator is bench/lib/openloop.c, compiled on first use into bench/.build/ (git-ignored) and run
// as its own process: the undici generator it replaced, in the harness process, cost about as much
// CPU as the gateway it measured and added its own event-loop and GC stalls to the p99.
// Requests go out on a fixed schedule whatever the responses do; latency is reported from each
// request's *scheduled* time (no coordinated omission) and from its actual write to the socket.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnTracked, which } from './proc.mjs';

const SOURCE = fileURLToPath(new URL('./openloop.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../.build/', import.meta.url));
const BINARY = path.join(BUILD_DIR, 'openloop');
const INSTALL = 'apt-get install -y gcc libssl-dev';
const GENERATOR = 'bench/lib/openloop.c (C, epoll + OpenSSL, open loop, separate process)';
const MARKERS = { 'openloop: measure start': 'start', 'openloop: measure end': 'end' };

/** Compile openloop.c unless the binary is newer; the bench never installs the compiler itself. */
export function buildOpenLoop() {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  if (!which('cc')) throw new Error(`bench/lib/openloop.c needs a C compiler and OpenSSL: ${INSTALL}`);
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${BINARY}.${process.pid}.tmp`; // renamed into place: a concurrent run never sees half a file
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', tmp, SOURCE, '-lssl', '-lcrypto'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    renameSync(tmp, BINARY);
  } catch (err) {
    rmSync(tmp, { force: true });
    const out = String(err.stderr ?? err.message);
    if (/openssl\/|-lssl|-lcrypto/.test(out)) {
      throw new Error(`OpenSSL headers or libraries are missing for bench/lib/openloop.c: ${INSTALL}`);
    }
    throw new Error(`cc could not compile bench/lib/openloop.c:\n${out}`);
  }
  return BINARY;
}

function generatorArgs({ port, rate, seconds, warmupSeconds, connections, headers, request }) {
  const args = ['-p', port, '-r', rate, '-d', seconds, '-w', warmupSeconds, '-c', connections];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  if (request !== undefined) {
    // GET {prefix}{1..ids}, or one path (ids 0) with a method and a body.
    args.push('-P', request.prefix, '-n', request.ids, '-m', request.method);
    if (request.body !== null) args.push('-b', request.body);
  }
  return args.map(String);
}

/**
 * Warm up (same connections, same rate), then measure; onMeasure(start|end) brackets the measured
 * phase. `request` ({ prefix, ids, method, body }, bench/lib/targets.mjs scenarioOpenLoop) replaces
 * the default GET /items/{1..1000}.
 */
export async function openLoop({
  port,
  rate,
  seconds,
  warmupSeconds,
  connections,
  headers = {},
  request,
  onMeasure = () => {},
}) {
  const binary = buildOpenLoop();
  const args = generatorArgs({ port, rate, seconds, warmupSeconds, connections, headers, request });
  const child = spawnTracked('openloop', binary, args, { logFile: true });
  let stdout = '';
  let failure = null;
  const notes = []; // the generator's other stderr lines: shown after a run, or as the error
  child.stdout.on('data', (d) => (stdout += d));
  // The generator says on stderr when measuring starts and ends.
  createInterface({ input: child.stderr }).on('line', (line) => {
    const at = MARKERS[line];
    if (!at) {
      notes.push(line);
      return;
    }
    try {
      onMeasure(at);
    } catch (err) {
      failure ??= err;
      child.kill('SIGKILL');
    }
  });
  const [code, signal] = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  });
  if (failure) throw failure;
  if (code !== 0) throw new Error(`bench/lib/openloop.c exited with ${code ?? signal}: ${notes.join('\n')}`);
  for (const note of notes) console.error(note);
  return { generator: GENERATOR, ...JSON.parse(stdout) };
}
