import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bankDir = path.dirname(fileURLToPath(import.meta.url));

/** The bank's own source files (tests and test support excluded). */
function serviceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return serviceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && entry.name !== 'testing.ts'
      ? [full]
      : [];
  });
}

/**
 * What the bank may import from the rest of the repository: the assertion verifier, dev
 * certificates for its CLI, and the SQLite driver adapter.
 */
const ALLOWED_OUTSIDE = new Set([
  'src/auth/assertion/verify-identity.ts',
  'src/tls/dev-certs.ts',
  'src/sqlite/database.ts',
]);

describe('the bank is a separate service', () => {
  it('imports nothing of the gateway but the identity-assertion verifier and shared libraries', () => {
    const root = path.resolve(bankDir, '..', '..');
    const outside: string[] = [];
    for (const file of serviceFiles(bankDir)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = path
          .relative(root, path.resolve(path.dirname(file), match[1]!))
          .replace(/\.js$/, '.ts');
        if (!target.startsWith('src/bank/')) outside.push(target);
      }
    }
    expect(outside.length).toBeGreaterThan(0);
    expect([...new Set(outside)].filter((target) => !ALLOWED_OUTSIDE.has(target))).toEqual([]);
  });
});
