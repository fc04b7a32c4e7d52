import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Markdown files a reader follows from the README (paths relative to the repository root). */
const MARKDOWN_FILES = [
  'README.md',
  'CONTRIBUTING.md',
  'bench/README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

const README_MAX_BYTES = 10_240;

function read(file: string): string {
  return readFileSync(path.join(root, file), 'utf8');
}

/** The text of a Markdown file with its fenced code blocks blanked out (line numbers kept). */
function withoutFences(text: string): string {
  let fence: string | null = null;
  return text
    .split('\n')
    .map((line) => {
      const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === null && marker !== undefined) {
        fence = marker;
        return '';
      }
      if (fence !== null) {
        if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The contents of every fenced code block of a language, in order. */
function codeBlocks(text: string, language: string): string[] {
  const blocks: string[] = [];
  let current: string[] | null = null;
  let indent = '';
  for (const line of text.split('\n')) {
    if (current === null) {
      const open = /^(\s*)```(\S*)\s*$/.exec(line);
      if (open?.[2] === language) {
        current = [];
        indent = open[1]!;
      }
    } else if (/^\s*```\s*$/.test(line)) {
      blocks.push(current.join('\n'));
      current = null;
    } else {
      current.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
  }
  return blocks;
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped but `-` and `_`, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor the headings of a Markdown file define, numbered as GitHub numbers repeats. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutFences(text).split('\n')) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The targets of the inline links and images of a Markdown file, outside code. */
function linkTargets(text: string): string[] {
  const prose = withoutFences(text).replace(/`[^`]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
}

describe('the README', () => {
  it(`is at most ${README_MAX_BYTES} bytes, so a newcomer reads it to the end`, () => {
    expect(statSync(path.join(root, 'README.md')).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it('starts with the two commands: the demo, then the tests', () => {
    const lines = read('README.md').split('\n');
    expect(lines[0]).toBe('# Gatehouse');
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe('```sh');
    expect(lines[3]).toMatch(/^npm install && npm start(\s+#.*)?$/);
    expect(lines[4]).toMatch(/^npm test(\s+#.*)?$/);
    expect(lines[5]).toBe('```');
  });
});

describe('links between the documents', () => {
  it('finds the documents and their links', () => {
    expect(MARKDOWN_FILES).toContain('docs/configuration.md');
    expect(linkTargets(read('README.md')).length).toBeGreaterThan(0);
  });

  it.each(MARKDOWN_FILES)('%s links only to files and headings that exist', (file) => {
    const broken: string[] = [];
    for (const target of linkTargets(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and other absolute URLs
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
      const resolved =
        pathPart === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), pathPart);
      if (!existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (
        anchor !== null &&
        resolved.endsWith('.md') &&
        !anchors(readFileSync(resolved, 'utf8')).has(anchor)
      ) {
        broken.push(`${target}: no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('the yaml examples', () => {
  const docs = MARKDOWN_FILES.filter((file) => file.startsWith('docs/'));
  const blocks = docs.flatMap((file) =>
    codeBlocks(read(file), 'yaml').map((block, index) => [file, index + 1, block] as const),
  );

  it('include the blocks of the configuration reference', () => {
    expect(codeBlocks(read('docs/configuration.md'), 'yaml').length).toBeGreaterThanOrEqual(5);
  });

  it.each(blocks)('%s, yaml block %i, parses', (_file, _index, block) => {
    const parsed: unknown = parse(block);
    expect(parsed).toBeTypeOf('object');
    expect(parsed).not.toBeNull();
  });
});
