import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCodeNotUsed, loadBuilt } from './built-code.js';

describe('code built ahead of time', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-built-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'made.cjs'), 'module.exports = { madeFrom: "lib@1" };');
  writeFileSync(path.join(dir, 'broken.cjs'), 'module.exports = {;');
  writeFileSync(path.join(dir, 'needs-gone.cjs'), 'module.exports = require("./gone-helper.cjs");');
  const compiled = pathToFileURL(path.join(dir, 'loader.js')).href;
  const source = pathToFileURL(path.join(dir, 'loader.ts')).href;
  const notedHere = () => builtCodeNotUsed().filter((one) => one.file.startsWith(dir));
  const madeFrom = (want: string) => (built: { madeFrom: string }) => built.madeFrom === want;

  it('is used when it was made from what this process would compile, and nothing is said', () => {
    expect(loadBuilt(compiled, './made.cjs', madeFrom('lib@1'))).toEqual({ madeFrom: 'lib@1' });
    expect(notedHere()).toEqual([]);
  });

  it('is not used when stale, missing or unreadable, and the compiled gateway notes each file once', () => {
    expect(loadBuilt(compiled, './made.cjs', madeFrom('lib@2'))).toBeNull();
    expect(loadBuilt(compiled, './made.cjs', madeFrom('lib@2'))).toBeNull();
    expect(loadBuilt(compiled, './absent.cjs', () => true)).toBeNull();
    expect(loadBuilt(compiled, './broken.cjs', () => true)).toBeNull();
    expect(loadBuilt(compiled, './needs-gone.cjs', () => true)).toBeNull();
    expect(notedHere()).toEqual([
      { file: path.join(dir, 'made.cjs'), reason: 'stale' },
      { file: path.join(dir, 'absent.cjs'), reason: 'missing' },
      { file: path.join(dir, 'broken.cjs'), reason: 'unreadable' },
      { file: path.join(dir, 'needs-gone.cjs'), reason: 'unreadable' },
    ]);
  });

  it('is not expected when the sources run (the tests): nothing is noted', () => {
    const before = notedHere().length;
    expect(loadBuilt(source, './never-built.cjs', () => true)).toBeNull();
    expect(loadBuilt(source, './made.cjs', madeFrom('lib@3'))).toBeNull();
    expect(notedHere()).toHaveLength(before);
  });
});
