import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/** What the checks need to find files and environment variables. */
export interface LoadContext {
  /** The configuration file's folder: relative paths in the file are resolved against it. */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Key and certificate files are small; a larger file is a wrong path (or /dev/zero), not PEM. */
const maxPemFileBytes = 1024 * 1024;

export function resolvePath(ctx: LoadContext, path: string): string {
  return isAbsolute(path) ? path : resolve(ctx.baseDir, path);
}

/** Describes a path for a message: pasted content (several lines, PEM) is never repeated. */
export function describePath(ctx: LoadContext, path: string): string {
  if (/[\r\n]|-----BEGIN/.test(path) || path.length > 1024) return 'the given path';
  const absolute = resolvePath(ctx, path);
  return absolute === path ? `"${path}"` : `"${path}" (${absolute})`;
}

/** Why a file cannot be used, in words, or null when it is a regular file. */
export async function fileProblem(absolute: string): Promise<string | null> {
  try {
    const info = await stat(absolute);
    return info.isFile() ? null : 'is not a regular file';
  } catch (err) {
    return errnoWords(err);
  }
}

/** Reads a small text file (PEM); returns the text or the reason it cannot be used. */
export async function readSmallFile(absolute: string): Promise<{ text: string } | { problem: string }> {
  try {
    const info = await stat(absolute);
    if (!info.isFile()) return { problem: 'is not a regular file' };
    if (info.size > maxPemFileBytes) return { problem: `is larger than ${maxPemFileBytes} bytes` };
    return { text: await readFile(absolute, 'utf8') };
  } catch (err) {
    return { problem: errnoWords(err) };
  }
}

function errnoWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    default:
      return `cannot be read (${code ?? 'unknown error'})`;
  }
}
