import { isIP, isIPv4, isIPv6 } from 'node:net';
import { describePath, fileProblem, resolvePath, type LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { integerIn, isRecord, recordsIn, stringIn, type RawRecord } from './raw.js';

/**
 * The rules a JSON Schema cannot express: unique names and addresses, TLS upstreams (plain only on this host),
 * timeouts that fit together, and an OpenAPI document that exists. Run on the raw data even
 * when the schema found problems, so that one run reports everything.
 */
export async function checkRules(data: unknown, ctx: LoadContext, issues: IssueList): Promise<void> {
  const listeners = recordsIn(data, 'listeners');
  const apis = recordsIn(data, 'apis');
  checkUniqueNames(listeners, 'listeners', 'listener', issues);
  checkUniqueNames(apis, 'apis', 'API', issues);
  for (const [listener, i] of listeners) checkHost(listener, i, issues);
  checkListenerAddresses(listeners, issues);
  if (isRecord(data) && isRecord(data.limits)) checkTimeouts(data.limits, issues);
  for (const [api, i] of apis) {
    checkBasePath(api, i, issues);
    if (isRecord(api.upstream)) checkUpstreamUrl(api.upstream, i, issues);
    await checkOpenApiFile(api, i, ctx, issues);
    await checkOverlayFiles(api, i, ctx, issues);
  }
  if (isRecord(data) && isRecord(data.rateLimits)) checkAppliedPolicies(data.rateLimits, issues);
}

/** Every name in `rateLimits.apply` is a policy of `rateLimits.policies` (start would refuse it). */
function checkAppliedPolicies(rateLimits: RawRecord, issues: IssueList): void {
  const apply = rateLimits.apply;
  if (!Array.isArray(apply)) return;
  const policies = isRecord(rateLimits.policies) ? Object.keys(rateLimits.policies) : [];
  apply.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || policies.includes(name)) return;
    issues.add(
      ['rateLimits', 'apply', i],
      `names "${name.slice(0, 64)}", which rateLimits.policies does not define`,
      policies.length === 0
        ? 'define the policy under rateLimits.policies, or remove it from apply'
        : `use one of ${policies.join(', ')}, or define it under rateLimits.policies`,
    );
  });
}

function checkUniqueNames(
  entries: [RawRecord, number][],
  list: string,
  what: string,
  issues: IssueList,
): void {
  const firstIndex = new Map<string, number>();
  for (const [entry, i] of entries) {
    const name = stringIn(entry, 'name');
    if (name === undefined) continue;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, i);
    else
      issues.add(
        [list, i, 'name'],
        `"${name}" is already the name of ${list}[${first}]`,
        `give each ${what} its own name`,
      );
  }
}

const hostName =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function checkHost(listener: RawRecord, i: number, issues: IssueList): void {
  const host = stringIn(listener, 'host');
  if (host === undefined || host === '' || isIP(host) !== 0 || hostName.test(host)) return;
  issues.add(
    ['listeners', i, 'host'],
    'is not an IP address or host name',
    'use an address such as 127.0.0.1, ::1 (no brackets) or 0.0.0.0 for all interfaces',
  );
}

const wildcardHosts = new Set(['0.0.0.0', '::', '::0']);

/** Two listeners on one port collide when their hosts are equal or one is a wildcard (EADDRINUSE). */
function checkListenerAddresses(listeners: [RawRecord, number][], issues: IssueList): void {
  const seen: { host: string; port: number; index: number }[] = [];
  for (const [listener, i] of listeners) {
    const host = stringIn(listener, 'host')?.toLowerCase();
    const port = integerIn(listener, 'port');
    if (host === undefined || port === undefined || port === 0) continue; // port 0: the OS picks a free one
    const clash = seen.find(
      (s) => s.port === port && (s.host === host || wildcardHosts.has(s.host) || wildcardHosts.has(host)),
    );
    if (clash) {
      issues.add(
        ['listeners', i, 'port'],
        `${host} port ${port} collides with listeners[${clash.index}] (${clash.host} port ${port})`,
        'give each listener its own port, or its own host',
      );
    } else seen.push({ host, port, index: i });
  }
}

function checkTimeouts(limits: RawRecord, issues: IssueList): void {
  const headers = integerIn(limits, 'headersTimeoutMs');
  const request = integerIn(limits, 'requestTimeoutMs');
  if (headers === undefined || request === undefined || headers <= request) return;
  issues.add(
    ['limits', 'headersTimeoutMs'],
    `(${headers}) is longer than requestTimeoutMs (${request})`,
    'the headers are part of the request: make headersTimeoutMs at most requestTimeoutMs',
  );
}

function checkBasePath(api: RawRecord, i: number, issues: IssueList): void {
  const segments = stringIn(api, 'basePath')?.split('/') ?? [];
  if (!segments.includes('.') && !segments.includes('..')) return;
  issues.add(
    ['apis', i, 'basePath'],
    'contains a "." or ".." segment',
    'write the path without "." and ".." segments, e.g. /bank',
  );
}

export const plainHttpHint =
  'Gatehouse talks to upstreams over TLS, or in plain http only to a service on the same host: serve the upstream over https (mTLS recommended), or run Gatehouse beside it and write http://127.0.0.1:PORT or socket: PATH';

/** Messages here never repeat the URL: it may carry a password. */
function checkUpstreamUrl(upstream: RawRecord, i: number, issues: IssueList): void {
  const raw = stringIn(upstream, 'url');
  if (raw === undefined || raw === '') return;
  const at = ['apis', i, 'upstream', 'url'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    issues.add(at, 'is not an absolute URL', 'write an https:// URL, e.g. https://127.0.0.1:8444');
    return;
  }
  if (url.username !== '' || url.password !== '') {
    issues.add(
      at,
      'contains a user name or password',
      'remove the user:password@ part; Gatehouse proves itself to upstreams with mTLS (upstream.tls.cert and key)',
    );
  }
  if (url.protocol === 'http:') checkSidecar(upstream, url, at, issues);
  else if (url.protocol !== 'https:')
    issues.add(at, `uses ${url.protocol}// instead of https://`, 'write an https:// URL');
  if (url.search !== '' || url.hash !== '') {
    issues.add(
      at,
      'has a query or fragment',
      'remove the "?…" or "#…" part; each request brings its own query',
    );
  }
}

/**
 * Plain http:// leaves the request, its credentials and its response readable on the way: accepted
 * only where the way never leaves the host, a loopback address or a Unix socket (the sidecar
 * pattern). A name (even localhost) is resolved at connect time and could point elsewhere.
 */
function checkSidecar(upstream: RawRecord, url: URL, at: ConfigPath, issues: IssueList): void {
  if (upstream.socket === undefined && !isLoopbackLiteral(url.hostname)) {
    issues.add(at, 'uses plain http:// to a host that is not this one', plainHttpHint);
  }
  const tls = upstream.tls;
  if (tls === 'dev' || (isRecord(tls) && Object.keys(tls).length > 0)) {
    issues.add(
      [...at.slice(0, -1), 'tls'],
      'is set for a plain http:// upstream',
      'write an https:// url to use these TLS settings, or remove tls for a sidecar on this host',
    );
  }
}

function isLoopbackLiteral(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIPv4(host)) return host.startsWith('127.');
  return isIPv6(host) && host === '::1';
}

async function checkOpenApiFile(
  api: RawRecord,
  i: number,
  ctx: LoadContext,
  issues: IssueList,
): Promise<void> {
  const path = stringIn(api, 'openapi');
  if (path === undefined || path === '') return;
  const problem = await fileProblem(resolvePath(ctx, path));
  if (problem === null) return;
  issues.add(
    ['apis', i, 'openapi'],
    `OpenAPI document ${describePath(ctx, path)} ${problem}`,
    `check the path; relative paths start at the configuration file's folder (${ctx.baseDir})`,
  );
}

/** Each file of `overlays` exists; what it says is checked where the document is loaded (src/contract). */
async function checkOverlayFiles(
  api: RawRecord,
  i: number,
  ctx: LoadContext,
  issues: IssueList,
): Promise<void> {
  const overlays = api.overlays;
  if (!Array.isArray(overlays)) return;
  for (const [j, path] of overlays.entries()) {
    if (typeof path !== 'string' || path === '') continue;
    const problem = await fileProblem(resolvePath(ctx, path));
    if (problem === null) continue;
    issues.add(
      ['apis', i, 'overlays', j],
      `overlay ${describePath(ctx, path)} ${problem}`,
      `check the path; relative paths start at the configuration file's folder (${ctx.baseDir})`,
    );
  }
}
