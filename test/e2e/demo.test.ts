import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoCredentials } from '../../src/demo/file-shapes.js';

// `npm start` is `npm run build && node dist/cli.js demo`: this runs the second half as the
// README's first command does, on its fixed ports (8443 gateway, 8444 bank, 9443 admin) and with
// the checkout's own git-ignored state folder (.gatehouse), as a fresh clone would.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'cli.js');

/** Output of the demo process so far, and a promise of its exit code. */
interface Demo {
  readonly child: ChildProcessWithoutNullStreams;
  output: string;
  readonly exited: Promise<number | null>;
}

function startDemo(): Demo {
  const child = spawn(process.execPath, [cli, 'demo'], { cwd: root, stdio: 'pipe' });
  const demo: Demo = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout.on('data', (d: Buffer) => (demo.output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (demo.output += d.toString()));
  return demo;
}

async function until(demo: Demo, text: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!demo.output.includes(text)) {
    if (demo.child.exitCode !== null) throw new Error(`the demo exited early:\n${demo.output}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" after ${ms} ms:\n${demo.output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start (the demo)', () => {
  let demo: Demo | null = null;
  afterAll(async () => {
    if (demo !== null && demo.child.exitCode === null) {
      demo.child.kill('SIGKILL');
      await demo.exited;
    }
  });

  it('starts the bank behind Gatehouse, serves the guide it prints, and stops cleanly on SIGTERM', async () => {
    demo = startDemo();
    await until(demo, 'Gatehouse  https://127.0.0.1:8443', 60_000);
    const credentials = JSON.parse(
      await readFile(path.join(root, '.gatehouse', 'demo', 'credentials.json'), 'utf8'),
    ) as DemoCredentials;
    const alice = credentials.users.find((u) => u.username === 'alice')!;
    const bob = credentials.users.find((u) => u.username === 'bob')!;
    const agent = new Agent({ connect: { ca: await readFile(credentials.ca, 'utf8') } });
    try {
      const read = async (account: string) => {
        const response = await request(`${credentials.gateway}/accounts/${account}`, {
          dispatcher: agent,
          headers: { 'x-api-key': alice.apiKeys!.full },
        });
        return {
          status: response.statusCode,
          body: await response.body.text(),
          requestId: String(response.headers['x-request-id']),
          rateLimitPolicy: response.headers['ratelimit-policy'],
        };
      };
      const own = await read(alice.accounts[0]!);
      expect(own.status).toBe(200);
      expect(JSON.parse(own.body)).toMatchObject({ id: alice.accounts[0] });
      // The demo limits every client: its responses say by which policy.
      expect(own.rateLimitPolicy).toBe('"per-client";q=600;w=60');
      // The lesson's attack: the bank checks ownership, and answers as for an account that does
      // not exist, so the response says nothing of Bob's.
      const attack = await read(bob.accounts[0]!);
      const missing = await read(randomUUID());
      expect(attack.status).toBe(404);
      expect(missing.status).toBe(404);
      const { type, title } = JSON.parse(missing.body) as { type: string; title: string };
      expect(JSON.parse(attack.body)).toMatchObject({ type, title, status: 404 });
      // The bank's own problem type: the gateway let the request through, the service refused it.
      expect(type).toMatch(/\/bank\/problems\/not-found$/);
      expect(attack.body).not.toContain(bob.accounts[0]!);
      expect(attack.body).not.toMatch(/balance/i);
      const noKey = await request(`${credentials.gateway}/accounts/${alice.accounts[0]}`, {
        dispatcher: agent,
      });
      expect(noKey.statusCode).toBe(401);
      await noKey.body.dump();

      // Monitoring: what the gateway refused is visible to the operator, and only to the operator.
      const admin = async (route: string): Promise<{ status: number; body: unknown }> => {
        const response = await request(`${credentials.admin.url}${route}`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${credentials.admin.token}` },
        });
        return { status: response.statusCode, body: await response.body.json() };
      };
      const journey = await admin(`/journeys/${String(noKey.headers['x-request-id'])}`);
      expect(journey).toMatchObject({
        status: 200,
        body: { journey: { decidedBy: 'authenticate', status: 401 } },
      });
      // 25 failed logins from one address: refused by the bank (401) or the login limits (429),
      // until the detector bans the address (403).
      const statuses: number[] = [];
      for (let i = 0; i < 25; i += 1) {
        const login = await request(`${credentials.gateway}/auth/login`, {
          dispatcher: agent,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'alice', password: `wrong-password-${i}` }),
        });
        statuses.push(login.statusCode);
        await login.body.dump();
      }
      expect(statuses[0]).toBe(401);
      expect(statuses.every((status) => [401, 403, 429].includes(status))).toBe(true);
      // The demo lets the detector ban: the address is refused from the twenty-first failure on.
      expect(statuses.slice(20)).toEqual([403, 403, 403, 403, 403]);
      const fired = await admin('/events?type=detector.fired');
      const detections = (fired.body as { events: { data: { detector: string } }[] }).events;
      expect(detections.map((event) => event.data.detector)).toContain('failed-logins-per-address');
      // The access-log line of alice's read names her (the bank's user id is her keys' consumer)
      // and her key's id; no log line holds a key, a password or the admin token.
      const ownLine = demo.output.split('\n').find((line) => line.includes(`"reqId":"${own.requestId}"`));
      const logged = JSON.parse(ownLine!) as { consumer: string; credential: string; credentialId: string };
      expect(logged.consumer).toMatch(/^[0-9a-f-]{36}$/);
      expect(logged.credential).toBe('api-key');
      expect(alice.apiKeyIds).toContain(logged.credentialId);
      const events = await readFile(path.join(root, '.gatehouse', 'security-events.log'), 'utf8');
      for (const secret of [alice.apiKeys!.full, alice.password, bob.password, credentials.admin.token]) {
        expect(demo.output).not.toContain(secret);
        expect(events).not.toContain(secret);
      }
    } finally {
      await agent.close();
    }
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
  }, 90_000);
});
