/**
 * The deployment examples in deploy/, checked as far as this machine allows: the systemd unit by
 * `systemd-analyze verify` (Debian package systemd, installed by .ci/run), the container file by
 * the rules that matter for a gateway (Debian has no hadolint): a pinned Node LTS base, the
 * package from this checkout's tarball, no root at run time, exec-form entry point, SIGTERM.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

/** What `systemd-analyze verify` says of a unit file (it exits 0 on warnings, so its words count). */
async function verifyUnit(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-unit-'));
  try {
    const file = path.join(dir, 'gatehouse.service');
    await writeFile(file, text);
    const { stdout, stderr } = await exec(SYSTEMD_ANALYZE, ['verify', file]).catch(
      (err: { stdout: string; stderr: string }) => err,
    );
    return (stdout + stderr).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!existsSync(SYSTEMD_ANALYZE) && process.env.CI === undefined)(
  'deploy/gatehouse.service',
  () => {
    it('passes systemd-analyze verify with nothing to say, where a misspelt setting would not', async () => {
      const unit = await readFile(path.join(root, 'deploy/gatehouse.service'), 'utf8');
      expect(await verifyUnit(unit)).toBe('');
      expect(await verifyUnit(unit.replace('Type=simple', 'Type=simpel'))).toMatch(
        /Failed to parse service type/,
      );
    });

    it('checks the configuration before it starts, reloads with SIGHUP and runs without root', async () => {
      const unit = await readFile(path.join(root, 'deploy/gatehouse.service'), 'utf8');
      expect(unit).toMatch(/^ExecStartPre=.*gatehouse check-config --config /m);
      expect(unit).toMatch(/^ExecStart=.*gatehouse start --config /m);
      expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      expect(unit).toMatch(/^DynamicUser=yes$/m);
      expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    });
  },
);

/** The instructions of a container file: continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

describe('deploy/Containerfile', () => {
  it('installs this checkout’s package on a Node LTS base and runs it as a user, not root', async () => {
    const steps = instructions(await readFile(path.join(root, 'deploy/Containerfile'), 'utf8'));
    const ops = steps.map((step) => step.op);
    const from = steps.filter((step) => step.op === 'FROM');
    expect(from).toHaveLength(1);
    expect(from[0]!.args).toMatch(/^node:(22|24|26)-[a-z]+-slim$/); // a maintained LTS line, never :latest
    expect(ops).not.toContain('ADD'); // nothing fetched from a URL at build time
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { name: string };
    expect(steps.find((step) => step.op === 'COPY')?.args).toContain(`${pkg.name}-*.tgz`);
    expect(steps.find((step) => step.op === 'RUN')?.args).toMatch(/npm install --global --omit=dev /);
    const user = steps.findLastIndex((step) => step.op === 'USER');
    expect(user).toBeGreaterThan(-1);
    expect(steps[user]!.args).not.toMatch(/^(root|0)$/);
    expect(user).toBeLessThan(ops.indexOf('ENTRYPOINT'));
    expect(JSON.parse(steps.find((step) => step.op === 'ENTRYPOINT')!.args)).toEqual(['gatehouse']);
    expect(JSON.parse(steps.find((step) => step.op === 'CMD')!.args)).toEqual([
      'start',
      '--config',
      '/etc/gatehouse/gatehouse.yaml',
    ]);
    expect(steps.find((step) => step.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });
});
