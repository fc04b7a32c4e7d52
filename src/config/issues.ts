/** A location in the configuration: object keys and list indexes, e.g. ['apis', 0, 'upstream', 'url']. */
export type ConfigPath = readonly (string | number)[];

/** One problem in a configuration file, with what to change. */
export interface ConfigIssue {
  /** Where, in dotted/bracket form: `apis[0].upstream.url`; "" for the file as a whole. */
  readonly path: string;
  /** 1-based line in the YAML file, or null when the place is not in the file (a missing key). */
  readonly line: number | null;
  /** What is wrong. Never contains secret material. */
  readonly message: string;
  /** What to change. */
  readonly hint: string;
}

/** Thrown by `loadConfig`: the file is unreadable or invalid. Lists every issue, not just the first. */
export class ConfigError extends Error {
  readonly code = 'GH_CONFIG_INVALID';
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`;
    super(`Invalid configuration ${file} (${count}):\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

/** `path (line N): message — hint`, the form used by ConfigError and `gatehouse check-config`. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '(file)' : issue.path;
  const line = issue.line === null ? '' : ` (line ${issue.line})`;
  return `${where}${line}: ${issue.message} — ${issue.hint}`;
}

const plainKey = /^[A-Za-z_$][\w$-]*$/;

/** ['apis', 0, 'upstream', 'url'] → "apis[0].upstream.url". */
export function formatPath(at: ConfigPath): string {
  let out = '';
  for (const segment of at) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (plainKey.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Collects issues, placing each on its YAML line. */
export class IssueList {
  readonly #lineOf: (at: ConfigPath) => number | null;
  readonly #issues: ConfigIssue[] = [];

  constructor(lineOf: (at: ConfigPath) => number | null) {
    this.#lineOf = lineOf;
  }

  add(at: ConfigPath, message: string, hint: string): void {
    this.#issues.push({ path: formatPath(at), line: this.#lineOf(at), message, hint });
  }

  get size(): number {
    return this.#issues.length;
  }

  /** In file order, so the report reads top to bottom; issues without a line come last. */
  sorted(): ConfigIssue[] {
    const rank = (issue: ConfigIssue): number => issue.line ?? Number.MAX_SAFE_INTEGER;
    return [...this.#issues].sort((a, b) => rank(a) - rank(b));
  }
}
