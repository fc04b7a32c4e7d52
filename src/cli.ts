#!/usr/bin/env node
import './runtime-flags.js';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { CHECK_CONFIG_HELP, INIT_HELP, ROUTES_HELP } from './cli/help-text.js';
import { failureLine } from './process/failure-line.js';

const MAX_WORKERS = 64;
const program = new Command();
program
  .name('gatehouse')
  .description("An API security gateway that enforces each service's OpenAPI contract.");

program
  .command('start')
  .description('run the gateway with a configuration file; SIGHUP reloads it, SIGTERM/SIGINT stop gracefully')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option(
    '-w, --workers <n>',
    `worker processes behind the listeners, each a whole gateway (default: one per CPU, ${availableParallelism()} here)`,
  )
  .action(async (options: { config: string; workers?: string }) => {
    const workers = workerCount(options.workers);
    // Each command loads what it needs when it runs: --help and check-config stay quick.
    const { startCommand } = await import('./process/start.js');
    await startCommand(options.config, workers);
  });

program
  .command('check-config')
  .description(
    'validate a configuration file and the OpenAPI documents it names, and connect to the stores it names; exit 1 on any problem',
  )
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option('--offline', 'do not connect to the stores (PostgreSQL, Redis): check the files only')
  .addHelpText('after', CHECK_CONFIG_HELP)
  .action(async (options: { config: string; offline?: boolean }) => {
    const { checkConfigCommand } = await import('./cli/check-config-command.js');
    process.exitCode = await checkConfigCommand(options.config, options.offline === true);
  });

program
  .command('routes')
  .description(
    'list every operation of every API with the policy the gateway enforces on it (security, limits, validation)',
  )
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option('--json', 'print a JSON array instead of the table (warnings go to stderr)')
  .addHelpText('after', ROUTES_HELP)
  .action(async (options: { config: string; json?: boolean }) => {
    const { routesCommand } = await import('./cli/routes-command.js');
    process.exitCode = await routesCommand(options);
  });

program
  .command('init')
  .description('write a starting gatehouse.yaml and a policy overlay for an existing OpenAPI document')
  .requiredOption('--openapi <file>', "the service's OpenAPI 3.0/3.1 document (left untouched)")
  .requiredOption('--upstream <url>', 'where the service listens: https://, or http:// on a loopback address')
  .option('--name <name>', "the API's name (default: from the document's title)")
  .option('--out <dir>', 'the folder to write the two files to', '.')
  .option('--force', 'overwrite files that exist')
  .addHelpText('after', INIT_HELP)
  .action(
    async (options: { openapi: string; upstream: string; name?: string; out: string; force?: boolean }) => {
      const { initCommand } = await import('./cli/init-command.js');
      process.exitCode = await initCommand(options);
    },
  );

program
  .command('demo')
  .description('run the demo: an example upstream behind Gatehouse on https://127.0.0.1:8443')
  .action(async () => {
    const { runDemo } = await import('./demo/run-demo.js').catch((err: unknown) => {
      // An installed package has no demo bank: its fastify and argon2 are development dependencies.
      const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
      if (!missing || !/'(fastify|argon2)'/.test(String((err as Error).message))) throw err;
      throw new Error(
        'the demo runs in a checkout of Gatehouse (npm install && npm start there): ' +
          'the package installs the gateway, not the demo bank',
      );
    });
    await runDemo();
  });

program
  .command('signing-key')
  .description("the gateway's own signing key (access tokens, identity assertions)")
  .command('rotate')
  .description(
    'add a new signing key to the state folder; gateways sign with it after a reload, the old one stays published until its tokens expire',
  )
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .action(async (options: { config: string }) => {
    const { rotateSigningKeyCommand } = await import('./auth/signing/rotate-command.js');
    process.exitCode = await rotateSigningKeyCommand(options, (line) => console.log(line));
  });

const keys = program
  .command('keys')
  .description('manage API keys in the configured key store (changes reach every gateway within a second)');

keys
  .command('create')
  .description('create a key and print it, once: only its hash is stored')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .requiredOption('--consumer <name>', 'who the key belongs to')
  .option('--scopes <a,b>', 'comma-separated scopes the key holds')
  .option('--expires <duration>', 'lifetime, e.g. 90d, 24h (default: no expiry)')
  .option('--env <live|test>', 'environment tag in the key', 'live')
  .option('--json', 'print JSON')
  .action(
    async (options: {
      config: string;
      consumer: string;
      scopes?: string;
      expires?: string;
      env?: string;
      json?: boolean;
    }) => {
      const { keysCreate } = await import('./admin/keys-command.js');
      process.exitCode = await keysCreate(options);
    },
  );

keys
  .command('list')
  .description('list keys (ids, consumers, scopes, state; never a secret)')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option('--consumer <name>', 'only the keys of this consumer')
  .option('--json', 'print one JSON record per line')
  .action(async (options: { config: string; consumer?: string; json?: boolean }) => {
    const { keysList } = await import('./admin/keys-command.js');
    process.exitCode = await keysList(options);
  });

keys
  .command('revoke <id>')
  .description('revoke a key: refused by every gateway within a second')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { config: string; json?: boolean }) => {
    const { keysRevoke } = await import('./admin/keys-command.js');
    process.exitCode = await keysRevoke(id, options);
  });

keys
  .command('rotate <id>')
  .description('issue a replacement key; the old one keeps working until the overlap ends')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .option('--overlap <duration>', 'how long the old key keeps working, e.g. 24h', '24h')
  .option('--expires <duration>', "the new key's lifetime (default: the old key's)")
  .option('--json', 'print JSON')
  .action(
    async (id: string, options: { config: string; overlap?: string; expires?: string; json?: boolean }) => {
      const { keysRotate } = await import('./admin/keys-command.js');
      process.exitCode = await keysRotate(id, options);
    },
  );

/** `--workers`: a whole number from 1 to MAX_WORKERS; absent, one per CPU (at most MAX_WORKERS). */
function workerCount(text: string | undefined): number {
  if (text === undefined) return Math.min(availableParallelism(), MAX_WORKERS);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_WORKERS) {
    throw new Error(`--workers ${text}: use a whole number from 1 to ${MAX_WORKERS} (default: one per CPU)`);
  }
  return n;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  // One line an operator can act on, never a stack trace (GATEHOUSE_DEBUG=1 prints it).
  console.error(failureLine(err));
  if (process.env.GATEHOUSE_DEBUG === '1') console.error(err); // the stack, and the cause's
  process.exitCode = 1;
});
