import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedUsers, type SeededUser } from '../../src/bank/seed.js';
import { openBankStore } from '../../src/bank/store/open-store.js';
import { isLedgerSound, type BankStore } from '../../src/bank/store/store.js';
import {
  DATABASES,
  TEST_GATEWAY_ISSUER,
  createTestGateway,
  freshDatabase,
  type TestGateway,
} from '../../src/bank/testing.js';
import { ensureDevCertificates, type DevCertificates } from '../../src/tls/dev-certs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(root, 'dist', 'bank', 'main.js');

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
}

/** Starts `node dist/bank/main.js` and waits for its "listening" line. */
async function spawnBank(env: NodeJS.ProcessEnv): Promise<Running> {
  const child = spawn(process.execPath, [MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bank did not start: ${stderr}`)), 15_000);
    child.once('exit', (code) => reject(new Error(`bank exited with ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event?: string; url?: string };
      if (event.event === 'listening') {
        clearTimeout(timer);
        resolve(event.url!);
      }
    });
  });
  return { child, url };
}

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(
    `kill -9 of the bank on ${db.name}${db.skip === null ? '' : ` (skipped: ${db.skip})`}`,
    () => {
      let dir: string;
      let certs: DevCertificates;
      let gateway: TestGateway;
      let env: NodeJS.ProcessEnv;
      let drop: () => Promise<void>;
      let users: SeededUser[];
      let agent: Agent;
      let store: BankStore | undefined;
      const running: ChildProcess[] = [];

      beforeAll(async () => {
        if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
        dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bank-crash-'));
        const stateDir = path.join(dir, 'state');
        certs = await ensureDevCertificates(stateDir);
        gateway = await createTestGateway();
        await writeFile(path.join(dir, 'gateway-keys.json'), JSON.stringify({ keys: [gateway.publicJwk] }));
        const fresh = freshDatabase(db.name, dir);
        drop = fresh.drop;
        const database = fresh.database;
        env = {
          PATH: process.env['PATH'],
          BANK_STATE_DIR: stateDir,
          BANK_PORT: '0',
          BANK_GATEWAY_KEYS: path.join(dir, 'gateway-keys.json'),
          BANK_GATEWAY_ISSUER: TEST_GATEWAY_ISSUER,
          BANK_AUDIENCE: 'bank',
          BANK_LOG_LEVEL: 'silent',
          ...(database.kind === 'sqlite'
            ? { BANK_SQLITE_PATH: database.path }
            : { DATABASE_URL: database.url, BANK_DATABASE_SCHEMA: database.schema }),
        };
        const seeding = await openBankStore(database);
        users = await seedUsers(
          seeding,
          ['u1', 'u2', 'u3', 'u4'].map((username) => ({
            username,
            role: 'customer' as const,
            accounts: [
              { name: 'Main', currency: 'EUR', openingBalance: 1_000_000, dailyOutgoingLimit: 1_000_000_000 },
            ],
          })),
        );
        await seeding.close();
        agent = new Agent({
          connect: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey, timeout: 60_000 },
          connections: 32,
        });
      });

      afterAll(async () => {
        for (const child of running) child.kill('SIGKILL');
        await agent?.close();
        await store?.close();
        await drop?.();
        if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      });

      const transfer = async (url: string, i: number): Promise<string | null> => {
        const from = users[i % users.length]!;
        const to = users[(i + 1) % users.length]!;
        const res = await request(`${url}/accounts/${from.accounts[0]}/transfer`, {
          dispatcher: agent,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
            'gatehouse-identity': await gateway.assertion({ subject: from.id, scopes: ['transfers:write'] }),
          },
          body: JSON.stringify({ toAccountId: to.accounts[0], amount: 1 + (i % 97), currency: 'EUR' }),
        });
        const text = await res.body.text();
        return res.statusCode === 201 ? (JSON.parse(text) as { id: string }).id : null;
      };

      it('keeps every answered transfer and a sound ledger after a kill -9 in the middle of a stream', async () => {
        const first = await spawnBank(env);
        running.push(first.child);
        const acknowledged: string[] = [];
        let stopped = false;
        let sent = 0;
        const worker = async (): Promise<void> => {
          while (!stopped) {
            try {
              const id = await transfer(first.url, sent++);
              if (id !== null) acknowledged.push(id);
            } catch {
              return; // the connection died with the process
            }
          }
        };
        const workers = Array.from({ length: 16 }, worker);
        while (acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 10));
        first.child.kill('SIGKILL');
        await Promise.all(workers);
        stopped = true;
        expect(
          first.child.signalCode ?? (await new Promise((r) => first.child.once('exit', (_c, s) => r(s)))),
        ).toBe('SIGKILL');

        const second = await spawnBank(env);
        running.push(second.child);
        // It serves again, on the same data.
        expect(await transfer(second.url, 0)).not.toBeNull();

        store = await openBankStore(databaseOf(env));
        const report = await store.checkLedger();
        expect(isLedgerSound(report), JSON.stringify(report)).toBe(true);
        expect(report.totalBalance).toBe(4_000_000);
        expect(report.transfers).toBeGreaterThanOrEqual(acknowledged.length + 1);
        const stored = new Set<string>();
        for (const user of users) {
          for (const entry of await store.listEntries({
            accountId: user.accounts[0]!,
            limit: 100_000,
            beforeSeq: null,
          })) {
            if (entry.transferId !== null) stored.add(entry.transferId);
          }
        }
        const lost = acknowledged.filter((id) => !stored.has(id));
        expect(lost).toEqual([]);

        const check = spawnSync(process.execPath, [MAIN, 'check-ledger'], { env, encoding: 'utf8' });
        expect(check.status, check.stderr).toBe(0);
        expect(JSON.parse(check.stdout)).toMatchObject({ totalBalance: 4_000_000, unbalancedTransfers: [] });
        second.child.kill('SIGTERM');
        await new Promise((resolve) => second.child.once('exit', resolve));
      }, 90_000);
    },
  );
}

function databaseOf(env: NodeJS.ProcessEnv): Parameters<typeof openBankStore>[0] {
  return env['DATABASE_URL'] !== undefined
    ? { kind: 'postgres', url: env['DATABASE_URL'], schema: env['BANK_DATABASE_SCHEMA']! }
    : { kind: 'sqlite', path: env['BANK_SQLITE_PATH']! };
}
