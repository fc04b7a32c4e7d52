// Process bookkeeping for the bench: spawn children in their own process group, kill every
// group on exit / Ctrl-C / error, free ports, readiness probes, and CPU time from /proc.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import process from 'node:process';
import path from 'node:path';

const children = new Set();
const exitHooks = [];

/** Run fn (synchronously) when the harness exits for any reason. */
export function onExit(fn) {
  exitHooks.push(fn);
}

function killAll(signal) {
  for (const child of children) {
    try {
      process.kill(-child.pid, signal); // the whole group: nginx workers, forked node workers
    } catch {
      /* already gone */
    }
  }
}

let exiting = false;
/** Error or signal: stop every group (SIGTERM, then SIGKILL), run the exit hooks, exit. */
async function exitNow(code) {
  if (exiting) return;
  exiting = true;
  await stopAll();
  process.exit(code); // the 'exit' handler below runs the hooks
}
process.on('exit', () => {
  killAll('SIGKILL');
  for (const fn of exitHooks.reverse()) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every process the bench started`);
    exitNow(130);
  });
}
/** Report an error (unless we are already stopping: then it is a child we killed) and stop. */
export function fail(err) {
  if (!exiting) console.error(err);
  exitNow(1);
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

/** Spawn a long-running child in its own process group; its output goes to logFile. */
export function spawnTracked(name, cmd, args, { cwd, env, logFile }) {
  const out = logFile ? ['ignore', 'pipe', 'pipe'] : 'ignore';
  const child = spawn(cmd, args, { cwd, env: env ?? process.env, detached: true, stdio: out });
  child.name = name;
  child.output = '';
  const keep = (d) => {
    child.output = (child.output + d).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  children.add(child);
  child.on('exit', (code, signal) => {
    children.delete(child);
    child.exited = { code, signal };
  });
  return child;
}

/** Stop every tracked child: SIGTERM to each group (nginx masters reap their workers), SIGKILL after 2 s. */
export async function stopAll() {
  const pending = Promise.all([...children].map((c) => new Promise((r) => c.once('exit', r))));
  killAll('SIGTERM');
  if ((await Promise.race([pending.then(() => 'done'), sleep(2000)])) === 'done') return;
  killAll('SIGKILL');
  await Promise.race([pending, sleep(2000)]);
}

/** Run a short-lived command to completion, collecting stdout (tracked, so Ctrl-C kills it). */
export function runToEnd(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, cmd, args, { logFile: true });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} exited with ${code}: ${child.output}`));
    });
  });
}

/** n distinct free ports on 127.0.0.1 (bind :0, keep all open until all are known, close). */
export async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Find an executable in PATH (plus the sbin directories, where nginx lives). */
export function which(bin) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  return dirs.map((d) => path.join(d, bin)).find((p) => existsSync(p)) ?? null;
}

/** One HTTPS GET (no CA check unless tls.ca given); resolves { status, body }. */
export function httpsGet(port, urlPath, tls = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        rejectUnauthorized: false,
        agent: false,
        timeout: 2000,
        ...tls,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Wait until GET urlPath answers 200 (the end-to-end proof that the target is wired right). */
export async function waitReady(child, port, urlPath, tls, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} exited (${child.exited.code}): ${child.output}`);
    try {
      const r = await httpsGet(port, urlPath, tls);
      if (r.status === 200) return r.body;
      last = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(200);
  }
  throw new Error(
    `${child.name} not ready on :${port}${urlPath} after ${timeoutMs} ms (${last}): ${child.output}`,
  );
}

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** pid and all its live descendants, from /proc: [pid, fields of /proc/pid/stat after the name]. */
function processTree(rootPid) {
  const procs = new Map(); // pid -> { ppid, fields }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] = state (field 3)
    procs.set(Number(entry), { ppid: Number(fields[1]), fields });
  }
  const tree = [];
  const todo = [rootPid];
  while (todo.length) {
    const pid = todo.pop();
    if (procs.has(pid)) tree.push([pid, procs.get(pid).fields]);
    for (const [child, p] of procs) if (p.ppid === pid) todo.push(child);
  }
  return tree;
}

/** CPU seconds (utime+stime) used so far by pid and all its live descendants. */
export function cpuSeconds(rootPid) {
  const ticks = processTree(rootPid).reduce((n, [, f]) => n + Number(f[11]) + Number(f[12]), 0);
  return ticks / TICK;
}

const PAGE = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;

/** Resident memory of pid and all its live descendants, in MB (pages counted once per process). */
export function rssMb(rootPid) {
  const pages = processTree(rootPid).reduce((n, [, f]) => n + Number(f[21]), 0);
  return (pages * PAGE) / 1e6;
}
