#!/usr/bin/env node
import { Command } from 'commander';
import { bankOptionsFromEnv, databaseFromEnv } from './env.js';
import { seedDemo } from './seed.js';
import { startBank } from './server.js';
import { openBankStore } from './store/open-store.js';
import { isLedgerSound } from './store/store.js';

/**
 * The bank as a process, configured by environment variables (see env.ts):
 *   node dist/bank/main.js [serve]      listen; prints {"event":"listening","url":…} on stdout
 *   node dist/bank/main.js seed-demo    create alice, bob and the auditor (new random passwords), print them as JSON
 *   node dist/bank/main.js check-ledger print the ledger check as JSON; exit 1 when it is not sound
 */
const program = new Command('gatehouse-bank').description('The Gatehouse reference bank');

program
  .command('serve', { isDefault: true })
  .description('listen on HTTPS (mTLS) for the gateway')
  .action(async () => {
    const bank = await startBank(await bankOptionsFromEnv(process.env));
    process.stdout.write(
      `${JSON.stringify({ event: 'listening', url: bank.url, database: bank.store.kind })}\n`,
    );
    const stop = (): void => {
      bank.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('seed-demo')
  .description('create the demo users and accounts; print usernames, passwords and account ids as JSON')
  .action(async () => {
    const store = await openBankStore(databaseFromEnv(process.env));
    try {
      process.stdout.write(`${JSON.stringify(await seedDemo(store), null, 2)}\n`);
    } finally {
      await store.close();
    }
  });

program
  .command('check-ledger')
  .description('check that every balance is explained by the ledger and no money was created or lost')
  .action(async () => {
    const store = await openBankStore(databaseFromEnv(process.env));
    try {
      const report = await store.checkLedger();
      process.stdout.write(`${JSON.stringify(report)}\n`);
      process.exitCode = isLedgerSound(report) ? 0 : 1;
    } finally {
      await store.close();
    }
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`gatehouse-bank: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
