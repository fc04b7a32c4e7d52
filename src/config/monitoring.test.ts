import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { checkConfig, type ConfigIssue } from './index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from './testing.js';

let fixture: ConfigDir;
beforeEach(async () => {
  fixture = await makeConfigDir();
});
afterEach(async () => {
  await fixture.remove();
});

const SECRET = 'a'.repeat(40);

async function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<readonly ConfigIssue[]> {
  const result = await checkConfig(await fixture.config(minimalYaml + yaml), env);
  expect(result.config).toBeNull();
  return result.issues;
}

describe('monitoring configuration', () => {
  test('defaults: every detector on, writing events only; events in stateDir; no alerts', async () => {
    const { config } = await checkConfig(await fixture.config(minimalYaml), {});
    const monitoring = config!.monitoring;
    expect(monitoring.events.destination).toBe(`${fixture.dir}/.gatehouse/security-events.log`);
    expect(monitoring.scrapeToken).toBeNull();
    expect(monitoring.alerts).toBeNull();
    expect(monitoring.probeIntervalMs).toBe(5000);
    expect(monitoring.detectors.failedLoginsPerAddress).toEqual({
      enabled: true,
      shadow: false,
      threshold: 20,
      windowMs: 300_000,
      actions: [],
      banMs: 900_000,
    });
    expect(Object.isFrozen(monitoring.detectors)).toBe(true);
  });

  test('reads the scrape token and the alert secret from their references', async () => {
    const { config, issues } = await checkConfig(
      await fixture.config(
        minimalYaml +
          `monitoring:
  scrapeToken: env:SCRAPE
  alerts:
    webhook: { url: "https://alerts.example.com/hook", secret: env:ALERT, retries: 1, dedup: 1m }
`,
      ),
      { SCRAPE: SECRET, ALERT: `${SECRET}b` },
    );
    expect(issues).toEqual([]);
    expect(config!.monitoring.scrapeToken).toBe(SECRET);
    expect(config!.monitoring.alerts).toMatchObject({
      url: 'https://alerts.example.com/hook',
      secret: `${SECRET}b`,
      retries: 1,
      dedupMs: 60_000,
    });
  });

  test('refuses inline or short secrets, a plaintext webhook off this host, and a ban no detector can set', async () => {
    const issues = await issuesOf(
      `monitoring:
  scrapeToken: env:SHORT
  detectors:
    upstreamErrors: { actions: [ban], threshold: 101 }
    failedLoginsPerUsername: { actions: [ban] }
  alerts:
    webhook: { url: "http://10.0.0.5/hook", secret: ${SECRET} }
`,
      { SHORT: 'short' },
    );
    const byPath = new Map(issues.map((i) => [i.path, `${i.message} ${i.hint}`]));
    expect(byPath.get('monitoring.scrapeToken')).toMatch(/shorter than 32 characters/);
    expect(byPath.get('monitoring.alerts.webhook.url')).toMatch(/loopback/);
    expect(byPath.get('monitoring.alerts.webhook.secret')).toMatch(/env:|file:/);
    expect(byPath.get('monitoring.detectors.upstreamErrors.actions[0]')).toMatch(/can only alert/);
    expect(byPath.get('monitoring.detectors.upstreamErrors.threshold')).toMatch(/percentage/);
    expect(byPath.get('monitoring.detectors.failedLoginsPerUsername.actions[0]')).toMatch(/can only alert/);
    expect(JSON.stringify(issues)).not.toContain(SECRET);
  });

  test('accepts a plaintext webhook on loopback (a receiver on the same host)', async () => {
    const { issues } = await checkConfig(
      await fixture.config(
        minimalYaml +
          'monitoring:\n  alerts:\n    webhook: { url: "http://127.0.0.1:9000/hook", secret: env:ALERT }\n',
      ),
      { ALERT: SECRET },
    );
    expect(issues).toEqual([]);
  });
});
