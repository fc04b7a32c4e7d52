/**
 * Test support for test/docs-samples.test.ts: the fenced code blocks of the Markdown files, the
 * configuration fragments they hold merged into a whole file, and their shell lines run for real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = path.join(root, 'dist', 'cli.js');

/** One fenced code block of a Markdown file. */
export interface Block {
  /** Relative to the repository root: `docs/configuration.md`. */
  readonly file: string;
  /** 1-based line of the opening fence (for messages only: blocks are found by their content). */
  readonly line: number;
  /** The info string's first word; "" for a block without one. */
  readonly lang: string;
  /** The lines between the fences, with the fence's own indentation removed. */
  readonly text: string;
  /** The first line of `text`, trimmed. */
  readonly firstLine: string;
}

/** Every fenced block (``` or ~~~, at any indentation) of `file`, in order; an unclosed one runs to the end. */
export function fencedBlocks(file: string): Block[] {
  const blocks: Block[] = [];
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  let open: { line: number; indent: string; fence: string; lang: string; body: string[] } | null = null;
  for (const [index, text] of lines.entries()) {
    if (open === null) {
      const start = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
      if (start !== null)
        open = { line: index + 1, indent: start[1]!, fence: start[2]!, lang: start[3]!, body: [] };
      continue;
    }
    const end = /^\s*(`{3,}|~{3,})\s*$/.exec(text)?.[1];
    if (end !== undefined && end[0] === open.fence[0] && end.length >= open.fence.length) {
      blocks.push(blockOf(file, open));
      open = null;
    } else {
      open.body.push(text.startsWith(open.indent) ? text.slice(open.indent.length) : text.trimStart());
    }
  }
  if (open !== null) blocks.push(blockOf(file, open));
  return blocks;
}

function blockOf(file: string, open: { line: number; lang: string; body: string[] }): Block {
  const text = open.body.join('\n');
  return { file, line: open.line, lang: open.lang, text, firstLine: (open.body[0] ?? '').trim() };
}

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNamed(value: unknown): value is Mapping & { name: unknown } {
  return isMapping(value) && typeof value.name === 'string';
}

/**
 * `fragment` written into `base`, as a reader puts a documented section into their file:
 * mappings key by key, lists of named entries (`apis`, `listeners`) entry by entry by name,
 * anything else replaced.
 */
export function mergeFragment(base: unknown, fragment: unknown): unknown {
  if (isMapping(base) && isMapping(fragment)) {
    const merged: Mapping = { ...base };
    for (const [key, value] of Object.entries(fragment)) {
      merged[key] = Object.hasOwn(base, key) ? mergeFragment(base[key], value) : value;
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(fragment) && fragment.every(isNamed)) {
    const merged: unknown[] = [...base];
    for (const entry of fragment) {
      const at = merged.findIndex((candidate) => isNamed(candidate) && candidate.name === entry.name);
      if (at === -1) merged.push(entry);
      else merged[at] = mergeFragment(merged[at], entry);
    }
    return merged;
  }
  return fragment;
}

/**
 * For each option a YAML sample shows commented out (`# overlays: [...]`, `# - { pointer: … }`),
 * the sample with that one line written in: what a reader who takes the option gets.
 */
export function commentedVariants(text: string): { readonly line: string; readonly text: string }[] {
  const lines = text.split('\n');
  return lines.flatMap((line, index) => {
    const found = /^(\s*)# ((?:[A-Za-z][A-Za-z0-9]*:(?:\s.*)?)|(?:- \{.*))$/.exec(line);
    if (found === null) return [];
    return [{ line: found[2]!, text: lines.with(index, found[1]! + found[2]!).join('\n') }];
  });
}

/**
 * The commands of an `sh` block: lines joined where they end with `\`, blank lines dropped.
 * Comments stay: the shell that runs a command skips them.
 */
export function shellCommands(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** A command as the reader types it, for this checkout: `gatehouse` and `npx gatehouse` are dist/cli.js. */
export function forThisCheckout(command: string): string {
  return command.replace(/^((?:[A-Z_]+=\S+ )*)(?:npx )?gatehouse /, `$1${process.execPath} ${cli} `);
}

/**
 * The two forms of a command with `[optional]` parts: every option written in, and none. A
 * command without brackets has one form.
 */
export function optionalForms(command: string): string[] {
  if (!/\[[^\]]+\]/.test(command)) return [command];
  const all = command.replace(/\[([^\]]+)\]/g, '$1');
  const none = command.replace(/\s*\[[^\]]+\]/g, '');
  return [all, none];
}

export interface ShellResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command line with `sh -c`, bounded by `timeoutMs`. */
export function runShell(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a command that hangs is stopped with what it started.
    const child = spawn('sh', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      stdio: 'pipe',
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A command left running, as `command &` leaves it: its own process group, so it stops whole. */
export interface Background {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Waits until the output matches `pattern` (or throws after `timeoutMs`, with the output). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to the process group; the exit code of the command (null: killed after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts one simple command line (`NAME=value … program args… [&]`, no quoting), as the shell
 * would: the leading assignments go into its environment. Run without a shell, so that the exit
 * code is the program's own.
 */
export function startBackground(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Background {
  const words = command
    .replace(/\s*&\s*$/, '')
    .trim()
    .split(/\s+/);
  if (words.some((word) => /["'$`\\]/.test(word))) throw new Error(`not a simple command: ${command}`);
  const env = { ...options.env };
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const assignment = words.shift()!;
    const at = assignment.indexOf('=');
    env[assignment.slice(0, at)] = assignment.slice(at + 1);
  }
  const [program, ...args] = words;
  const child = spawn(program === 'node' ? process.execPath : program!, args, {
    cwd: options.cwd,
    env,
    stdio: 'pipe',
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = pattern.exec(output);
        if (found !== null) return found;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`no ${String(pattern)} from "${command}":\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
      signalGroup(child.pid, signal);
      const killer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group has gone already
  }
}
