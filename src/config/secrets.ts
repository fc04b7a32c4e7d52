import { describePath, readSmallFile, resolvePath, type LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { stringIn, type RawRecord } from './raw.js';

/**
 * Secret references (DESIGN.md, "Security defaults"): a secret is never written in the
 * configuration, only where to find it — `env:NAME` (an environment variable) or `file:PATH`
 * (a file, relative paths resolved against the configuration file's folder).
 */
export type SecretRef =
  { readonly kind: 'env'; readonly name: string } | { readonly kind: 'file'; readonly path: string };

/** Why a reference could not be read: names the variable or file, never the secret. */
export interface SecretProblem {
  readonly message: string;
  readonly hint: string;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const referenceHint =
  'move the secret to a file (key: file:./tls/server.key) or an environment variable (key: env:GATEHOUSE_TLS_KEY)';

export function parseSecretRef(value: string): SecretRef | SecretProblem {
  if (value.trimStart().startsWith('-----BEGIN')) {
    return { message: 'holds a private key written inline in the configuration', hint: referenceHint };
  }
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    if (envName.test(name)) return { kind: 'env', name };
    return {
      message: 'names an invalid environment variable',
      hint: 'write env:NAME, NAME made of letters, digits and _',
    };
  }
  if (value.startsWith('file:')) {
    const path = value.slice(5);
    if (path !== '' && !/[\r\n]/.test(path)) return { kind: 'file', path };
    return { message: 'has no file path after "file:"', hint: 'write file:PATH, e.g. file:./tls/server.key' };
  }
  return {
    message: 'is not a secret reference (env:NAME or file:PATH)',
    hint: `secrets are never written inline: ${referenceHint}; if this is a file path, prefix it with file:`,
  };
}

/** Reads the secret a reference names. */
export async function readSecretRef(
  value: string,
  ctx: LoadContext,
): Promise<{ readonly secret: string; readonly source: string } | SecretProblem> {
  const ref = parseSecretRef(value);
  if ('message' in ref) return ref;
  if (ref.kind === 'env') {
    const secret = ctx.env[ref.name];
    const source = `environment variable ${ref.name}`;
    if (secret === undefined) {
      return {
        message: `${source} is not set`,
        hint: `set ${ref.name} before starting Gatehouse, or use file:PATH`,
      };
    }
    if (secret.trim() === '')
      return { message: `${source} is empty`, hint: `put the PEM key in ${ref.name}` };
    return { secret, source };
  }
  const source = `file ${describePath(ctx, ref.path)}`;
  const read = await readSmallFile(resolvePath(ctx, ref.path));
  if ('problem' in read) {
    return {
      message: `${source} ${read.problem}`,
      hint: "check the path (relative paths start at the configuration file's folder) and its permissions",
    };
  }
  return { secret: read.text, source };
}

/**
 * The secret that the reference at `section[last step of at]` names, or null when the field is
 * absent (or the schema reported it) or cannot be read, in which case the issue is added at `at`.
 */
export async function readSecretAt(
  section: RawRecord,
  at: ConfigPath,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string | null> {
  const ref = stringIn(section, String(at[at.length - 1]));
  if (ref === undefined || ref === '') return null;
  const read = await readSecretRef(ref, ctx);
  if ('message' in read) {
    issues.add(at, read.message, read.hint);
    return null;
  }
  return read.secret.trim();
}
