#!/usr/bin/env node
import { Command } from 'commander';
import { checkConfig, ConfigError, formatIssue } from './config/index.js';
import { ContractError, loadOpenApiDocument, compileApi } from './contract/index.js';
import { runDemo } from './demo/run-demo.js';
import { runGateway } from './gateway/run.js';

const program = new Command();
program
  .name('gatehouse')
  .description("An API security gateway that enforces each service's OpenAPI contract.");

program
  .command('start')
  .description('run the gateway with a configuration file; SIGHUP reloads it, SIGTERM/SIGINT stop gracefully')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .action(async (options: { config: string }) => {
    await runGateway(options.config);
  });

program
  .command('check-config')
  .description('validate a configuration file and the OpenAPI documents it names; exit 1 on any problem')
  .requiredOption('-c, --config <file>', 'the YAML configuration')
  .action(async (options: { config: string }) => {
    process.exitCode = await checkConfigCommand(options.config);
  });

program
  .command('demo')
  .description('run the demo: an example upstream behind Gatehouse on https://127.0.0.1:8443')
  .action(async () => {
    await runDemo();
  });

async function checkConfigCommand(file: string): Promise<number> {
  const { config, issues } = await checkConfig(file);
  for (const issue of issues) console.log(formatIssue(issue));
  if (config === null) return 1;
  let contractProblems = 0;
  for (const api of config.apis) {
    try {
      compileApi(api, await loadOpenApiDocument(api.openapi));
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      contractProblems += 1;
      console.log(`apis.${api.name}.openapi: ${err.message}`);
    }
  }
  if (issues.length > 0 || contractProblems > 0) return 1;
  console.log(
    `${file}: configuration is valid (${config.apis.length} API(s), ${config.listeners.length} listener(s))`,
  );
  return 0;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof ConfigError || err instanceof ContractError) {
    console.error(err.message);
  } else if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    const { address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
    console.error(
      `cannot listen on ${address ?? '?'}:${port ?? '?'} (${code}): another process holds it or the address is not ` +
        'this machine\'s; stop that process or change the port in the configuration',
    );
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
  process.exitCode = 1;
});
