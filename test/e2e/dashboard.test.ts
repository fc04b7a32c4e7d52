import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../../src/admin/dashboard.js';
import { fetchResponse, startHarness, type HttpResponse, type Harness } from '../support/gateway-harness.js';
import { expectProblem } from '../support/problems.js';

const TOKEN = randomBytes(32).toString('hex');
process.env.GH_TEST_DASHBOARD_ADMIN_TOKEN = TOKEN;
/** Debian's chromium (.ci/run installs it); CHROMIUM_PATH names another build. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
/** What the page must show within: it refreshes every second. */
const LIVE_MS = 2000;

const OPENAPI = `openapi: 3.1.0
info: { title: watched, version: 1.0.0 }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { key: [items:read] } ]
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, maxLength: 16 } }
      responses:
        '200': { description: an item }
`;

describe.skipIf(!existsSync(CHROMIUM) && process.env.CI === undefined)(
  'the dashboard, in a real browser',
  () => {
    let h: Harness;
    let admin: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const problems: string[] = [];
    const api = (method: string, route: string, body?: unknown): Promise<HttpResponse> =>
      fetchResponse(h.agent, admin + route, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const number = async (testId: string): Promise<number> =>
      Number((await page.getByTestId(testId).innerText()).replace(/[^0-9]/g, ''));
    const threatCount = async (threat: string): Promise<number> =>
      Number(
        (await page.getByTestId(`threat-${threat}`).locator('.count').innerText()).replace(/[^0-9]/g, ''),
      );

    beforeAll(async () => {
      expect(
        existsSync(CHROMIUM),
        `chromium at ${CHROMIUM} (Debian package chromium, installed by .ci/run)`,
      ).toBe(true);
      h = await startHarness({
        openapi: OPENAPI,
        extraYaml:
          'admin:\n  port: 0\n  token: env:GH_TEST_DASHBOARD_ADMIN_TOKEN\nmonitoring:\n  probeInterval: 200ms\n',
      });
      admin = `https://127.0.0.1:${h.gateway.adminAddress!.port}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
      page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page: ${err.message}`));
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await h?.close();
    });

    it('answers the sign-in page or 401 without the admin token, and no admin data before sign-in', async () => {
      await h.get('/items/1'); // a refusal, so there is data to leak
      const signIn = await fetchResponse(h.agent, `${admin}/dashboard`, {});
      expect(signIn.status).toBe(200);
      expect(signIn.headers['content-security-policy']).toBe(DASHBOARD_CSP);
      expect(signIn.text).toContain('name="token"');
      expect(signIn.text).not.toMatch(/<script|GH_|auth\.refused|\/items/);
      for (const route of [
        '/dashboard/assets/app.js',
        '/dashboard/assets/app.css',
        '/dashboard/session',
        '/summary',
        '/events',
        '/bans',
        '/keys',
      ]) {
        expectProblem(await fetchResponse(h.agent, admin + route, {}), 401, 'admin-unauthorized');
      }
      expect((await fetchResponse(h.agent, `${admin}/dashboard/assets/signin.css`, {})).status).toBe(200);
      const forged = await fetchResponse(h.agent, `${admin}/dashboard`, {
        headers: { cookie: '__Host-gatehouse-admin=' + 'A'.repeat(43) },
      });
      expect(forged.text).toContain('name="token"');
    });

    it('signs in with the admin token: a wrong one is refused, the right one opens the dashboard', async () => {
      await page.goto(`${admin}/dashboard`);
      await page.fill('#token', 'not-the-token');
      await page.click('button[type=submit]');
      await expect.poll(() => page.locator('.error').isVisible()).toBe(true);
      problems.length = 0; // the browser reports the refused sign-in's 401: that one was meant
      await page.fill('#token', TOKEN);
      await page.click('button[type=submit]');
      await page.getByTestId('stat-requests').waitFor();
      expect(problems).toEqual([]);
      const cookie = (await context.cookies()).find((c) => c.name === '__Host-gatehouse-admin')!;
      expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
      expect(await page.content()).not.toContain(TOKEN);
    });

    it('moves its numbers within two seconds of traffic through the gateway', async () => {
      const refused = await number('stat-refused');
      const fakeCallers = await threatCount('fake-callers');
      const hits = h.upstream.hits('/items/');
      for (let i = 0; i < 5; i += 1) expectProblem(await h.get(`/items/${i}`), 401, 'auth-unauthenticated');
      expect(h.upstream.hits('/items/')).toBe(hits);
      const started = Date.now();
      await expect
        .poll(() => number('stat-refused'), { timeout: LIVE_MS })
        .toBeGreaterThanOrEqual(refused + 5);
      expect(Date.now() - started).toBeLessThan(LIVE_MS);
      await expect
        .poll(() => threatCount('fake-callers'), { timeout: LIVE_MS })
        .toBeGreaterThanOrEqual(fakeCallers + 5);
      await expect
        .poll(() => page.getByTestId('event').count(), { timeout: LIVE_MS })
        .toBeGreaterThanOrEqual(5);
    });

    it('shows the journey of a refused request, stage by stage', async () => {
      const refused = await h.get('/items/7', { headers: { 'x-api-key': 'gk_live_guess' } });
      await page.getByTestId('journey-input').fill(`urn:uuid:${String(refused.headers['x-request-id'])}`);
      await page.getByTestId('journey-submit').click();
      const steps = page.getByTestId('journey-steps').locator('li');
      await expect
        .poll(() => steps.allInnerTexts())
        .toEqual(['transport', 'route', 'pre-auth-limit', 'authenticate']);
      expect(await steps.last().getAttribute('class')).toBe('refused');
      expect(await page.getByTestId('journey').innerText()).toContain('GH_AUTH_UNAUTHENTICATED');
    });

    it('lifts a ban with one click, and revokes a key with two', async () => {
      const set = await api('POST', '/bans', {
        kind: 'address',
        value: '192.0.2.9',
        duration: '1h',
        reason: 'scanner',
      });
      const { ban } = set.json() as { ban: { id: string } };
      await page.getByTestId(`lift-${ban.id}`).click();
      await expect
        .poll(async () => ((await api('GET', '/bans')).json() as { bans: unknown[] }).bans)
        .toEqual([]);
      await expect.poll(() => page.getByTestId(`lift-${ban.id}`).count(), { timeout: LIVE_MS }).toBe(0);

      const created = (
        await api('POST', '/keys', { consumer: 'shop-app', scopes: ['items:read'] })
      ).json() as {
        key: string;
        record: { id: string };
      };
      const session = (await context.cookies()).find((c) => c.name === '__Host-gatehouse-admin')!.value;
      const served = await h.get('/items/1', {
        headers: {
          'x-api-key': created.key,
          cookie: `theme=dark; __Host-gatehouse-admin=${session}; lang=en`,
        },
      });
      expect(served.status).toBe(200);
      // Another port of the same host gets the operator's cookie too: it never reaches an upstream.
      expect(h.upstream.received.at(-1)!.headers.cookie).toBe('theme=dark; lang=en');
      await page.getByTestId(`revoke-${created.record.id}`).click();
      await page.getByTestId(`confirm-revoke-${created.record.id}`).click();
      await expect
        .poll(
          async () =>
            ((await api('GET', `/keys/${created.record.id}`)).json() as { record: { status: string } }).record
              .status,
        )
        .toBe('revoked');
      await expect
        .poll(async () => (await h.get('/items/1', { headers: { 'x-api-key': created.key } })).status)
        .toBe(401);
      const hits = h.upstream.hits('/items/');
      expectProblem(
        await h.get('/items/1', { headers: { 'x-api-key': created.key } }),
        401,
        'auth-unauthenticated',
      );
      expect(h.upstream.hits('/items/')).toBe(hits);
    });

    it('refuses a change without its CSRF token, with a wrong one, or from another port of the host', async () => {
      const status = await page.evaluate(
        `fetch('/bans', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'address', value: '192.0.2.10', duration: '1h' }) }).then((a) => a.status)`,
      );
      expect(status).toBe(401);
      expect(((await api('GET', '/bans')).json() as { bans: unknown[] }).bans).toEqual([]);
      expect(problems).toEqual([
        'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
      ]);
      problems.length = 0;
      const cookie = `__Host-gatehouse-admin=${(await context.cookies()).find((c) => c.name === '__Host-gatehouse-admin')!.value}`;
      const set = await api('POST', '/bans', { kind: 'address', value: '192.0.2.11', duration: '1h' });
      const { ban } = set.json() as { ban: { id: string } };
      const asBrowser = (site: string, csrf: string): Promise<HttpResponse> =>
        fetchResponse(h.agent, `${admin}/bans/${ban.id}`, {
          method: 'DELETE',
          headers: { cookie, 'sec-fetch-site': site, 'x-csrf-token': csrf },
        });
      const session = (
        await fetchResponse(h.agent, `${admin}/dashboard/session`, { headers: { cookie } })
      ).json() as {
        csrf: string;
      };
      expectProblem(await asBrowser('same-origin', `${session.csrf}x`), 401, 'admin-unauthorized');
      expectProblem(await asBrowser('same-site', session.csrf), 401, 'admin-unauthorized'); // another port of this host
      expect(((await api('GET', '/bans')).json() as { bans: unknown[] }).bans).toHaveLength(1);
      expect((await asBrowser('same-origin', session.csrf)).status).toBe(200);
    });

    it('stays responsive with 10,000 events, at 1280×800 and at a phone width, and writes screenshots', async () => {
      for (let i = 0; i < 10_000; i += 1) {
        h.gateway.monitor.emit('auth.refused', {
          address: `198.51.100.${i % 200}`,
          code: 'GH_AUTH_UNAUTHENTICATED',
          reason: 'api-key.unknown',
        });
      }
      for (let i = 0; i < 20; i += 1) await h.get(`/items/${i}`);
      const refused = await number('stat-refused');
      await h.get('/items/x');
      const started = Date.now();
      await expect.poll(() => number('stat-refused'), { timeout: LIVE_MS }).toBeGreaterThan(refused);
      expect(Date.now() - started).toBeLessThan(LIVE_MS);
      expect(await page.getByTestId('event').count()).toBe(50);
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });

      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await page.getByTestId('stat-requests').waitFor();
      const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      expect(await page.getByTestId('traffic-chart').isVisible()).toBe(true);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-phone.png'), fullPage: true });
      expect(problems).toEqual([]);
    }, 60_000);
  },
);
