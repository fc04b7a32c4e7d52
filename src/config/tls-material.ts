import { describePath, readSmallFile, resolvePath, type LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { certificateProblem, keyMatchesCertificate, privateKeyProblem } from './pem.js';
import { isRecord, recordsIn, stringIn, type RawRecord } from './raw.js';
import { readSecretRef } from './secrets.js';
import type { ServerTls, UpstreamTls } from './types.js';

/** The TLS settings with files read and secrets resolved, by listener / API index. */
export interface TlsMaterial {
  readonly listeners: ReadonlyMap<number, ServerTls>;
  readonly upstreams: ReadonlyMap<number, UpstreamTls>;
}

/**
 * Reads every certificate, CA bundle and private key the configuration names, checking each is
 * the PEM it should be and that each key belongs to its certificate. Sequential on purpose:
 * a handful of small files, and the issues come out in a stable order.
 */
export async function loadTlsMaterial(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<TlsMaterial> {
  const listeners = new Map<number, ServerTls>();
  for (const [listener, i] of recordsIn(data, 'listeners')) {
    const tls = await loadServerTls(listener.tls, ['listeners', i, 'tls'], ctx, issues);
    if (tls) listeners.set(i, tls);
  }
  const upstreams = new Map<number, UpstreamTls>();
  for (const [api, i] of recordsIn(data, 'apis')) {
    const upstream = isRecord(api.upstream) ? api.upstream : {};
    const tls = await loadUpstreamTls(upstream.tls ?? {}, ['apis', i, 'upstream', 'tls'], ctx, issues);
    if (tls) upstreams.set(i, tls);
  }
  return { listeners, upstreams };
}

export async function loadServerTls(raw: unknown, at: ConfigPath, ctx: LoadContext, issues: IssueList) {
  if (raw === 'dev') return { dev: true } as const;
  if (!isRecord(raw)) return null;
  const pair = await loadIdentity(raw, at, ctx, issues);
  const ca = await readOptionalCertificates(raw, [...at, 'ca'], ctx, issues);
  if (pair === null || pair.cert === null || pair.key === null || ca === undefined) return null;
  return { dev: false, cert: pair.cert, key: pair.key, ca } as const;
}

async function loadUpstreamTls(raw: unknown, at: ConfigPath, ctx: LoadContext, issues: IssueList) {
  if (raw === 'dev') return { dev: true } as const;
  if (!isRecord(raw)) return null;
  const ca = await readOptionalCertificates(raw, [...at, 'ca'], ctx, issues);
  const pair = await loadIdentity(raw, at, ctx, issues);
  if (pair === null || ca === undefined) return null;
  return {
    dev: false,
    ca,
    cert: pair.cert,
    key: pair.key,
    serverName: stringIn(raw, 'serverName') ?? null,
  } as const;
}

/** cert and key (each may be absent: null); null as a whole when either is present but unusable. */
async function loadIdentity(raw: RawRecord, at: ConfigPath, ctx: LoadContext, issues: IssueList) {
  const cert = await readOptionalCertificates(raw, [...at, 'cert'], ctx, issues);
  const key = await readOptionalPrivateKey(raw, [...at, 'key'], ctx, issues);
  if (cert === undefined || key === undefined) return null;
  if (cert !== null && key !== null && !keyMatchesCertificate(cert, key)) {
    issues.add(
      [...at, 'key'],
      'is not the private key of the certificate in cert',
      'give the key and certificate that belong together',
    );
    return null;
  }
  return { cert, key };
}

/**
 * The PEM text of the certificate file at raw[field], where field is the last step of `at`;
 * null when absent; undefined when unusable (the issue is reported).
 */
export async function readOptionalCertificates(
  raw: RawRecord,
  at: ConfigPath,
  ctx: LoadContext,
  issues: IssueList,
) {
  const field = String(at[at.length - 1]);
  if (raw[field] === undefined) return null;
  const path = stringIn(raw, field);
  if (path === undefined || path === '') return undefined; // the schema reported it
  if (/[\r\n]|-----BEGIN/.test(path)) {
    issues.add(at, 'holds PEM text, but takes a file path', 'save the PEM text to a file and give its path');
    return undefined;
  }
  const source = `file ${describePath(ctx, path)}`;
  const read = await readSmallFile(resolvePath(ctx, path));
  if ('problem' in read) {
    issues.add(
      at,
      `${source} ${read.problem}`,
      "check the path (relative paths start at the configuration file's folder)",
    );
    return undefined;
  }
  const problem = certificateProblem(read.text);
  if (problem) {
    issues.add(at, `${source} ${problem.message}`, problem.hint);
    return undefined;
  }
  return read.text;
}

/** The PEM private key that the secret reference at raw.key names; null when absent; undefined when unusable. */
async function readOptionalPrivateKey(raw: RawRecord, at: ConfigPath, ctx: LoadContext, issues: IssueList) {
  if (raw.key === undefined) return null;
  const ref = stringIn(raw, 'key');
  if (ref === undefined || ref === '') return undefined;
  const read = await readSecretRef(ref, ctx);
  if ('message' in read) {
    issues.add(at, read.message, read.hint);
    return undefined;
  }
  const problem = privateKeyProblem(read.secret);
  if (problem) {
    issues.add(at, `${read.source} ${problem.message}`, problem.hint);
    return undefined;
  }
  return read.secret;
}
