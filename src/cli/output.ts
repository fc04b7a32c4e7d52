/** A line of a command's output on stdout. */
export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A line on stderr: problems, and warnings when stdout carries JSON. */
export function printError(line: string): void {
  process.stderr.write(`${line}\n`);
}
