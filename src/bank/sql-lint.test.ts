import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const eslint = new ESLint({ cwd: root });

/** Lints `code` as if it were a file of the bank, and returns what the SQL rule reported. */
async function rulesFiredOn(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, 'src/bank/store/example.ts') });
  return result!.messages
    .filter((m) => m.ruleId === 'no-restricted-syntax')
    .map((m) => `${m.ruleId}: ${m.message}`);
}

const PRELUDE = `
declare const db: { prepare(sql: string): unknown; exec(sql: string): unknown };
declare const client: { query(sql: string | { text: string; values?: unknown[] }, values?: unknown[]): unknown };
declare const id: string;
declare const table: string;
`;

describe('the lint rule against SQL built from values (src/bank)', () => {
  it.each([
    [
      'a template literal with a value, passed to prepare',
      "db.prepare(`SELECT * FROM bank_accounts WHERE id = '${id}'`);",
    ],
    ['a template literal with a value, passed to query', 'client.query(`DELETE FROM ${table}`);'],
    ['string concatenation passed to query', "client.query('SELECT * FROM bank_accounts WHERE id = ' + id);"],
    ['concatenation passed to exec', "db.exec('DROP TABLE ' + table);"],
    ['a built string passed through .concat()', "client.query('SELECT * FROM t WHERE id = '.concat(id));"],
    [
      'SQL text in a template literal kept in a variable first',
      'const sql = `SELECT * FROM t WHERE id = ${id}`; db.prepare(sql);',
    ],
    [
      'SQL text concatenated into a variable first',
      "const sql = 'SELECT balance FROM t WHERE id = ' + id; client.query(sql);",
    ],
    ['SQL text appended with +=', "let sql = 'x'; sql += ' WHERE id = '; client.query(sql + id);"],
    ['a query object whose text is built', "client.query({ text: 'SELECT * FROM t WHERE id = ' + id });"],
  ])('fails the build on %s', async (_name, code) => {
    const fired = await rulesFiredOn(PRELUDE + code);
    expect(
      fired.some((m) => m.startsWith('no-restricted-syntax: bank: SQL must be one string literal')),
    ).toBe(true);
  });

  it('lets whole literals with placeholders through', async () => {
    const code = [
      PRELUDE,
      "db.prepare('SELECT id FROM bank_accounts WHERE id = ?');",
      'client.query(`SELECT id\n FROM bank_accounts WHERE id = $1`, [id]);',
      "client.query({ text: 'SELECT 1 WHERE $1::text IS NOT NULL', values: [id] });",
    ].join('\n');
    expect(await rulesFiredOn(code)).toEqual([]);
  });
});
