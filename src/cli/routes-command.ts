import { checkConfig, formatIssue } from '../config/index.js';
import { compileEffectivePolicy } from './effective-policy.js';
import { describeRoute } from './route-record.js';
import { formatRoutesTable } from './routes-table.js';
import { print, printError } from './output.js';

/**
 * `gatehouse routes`: every operation of every API with the policy the gateway enforces on it,
 * compiled as `start` compiles it (overlays and defaultSecurity applied). Errors and, with
 * --json, warnings go to stderr, so that stdout holds only the table or the JSON array.
 * Returns the exit code.
 */
export async function routesCommand(options: { config: string; json?: boolean }): Promise<number> {
  const { config, issues } = await checkConfig(options.config);
  for (const issue of issues) printError(formatIssue(issue));
  if (config === null) return 1;
  const { routes, problems, warnings } = await compileEffectivePolicy(config);
  for (const problem of problems) printError(problem);
  if (problems.length > 0) return 1;
  const records = routes.map((route) => describeRoute(route, config));
  if (options.json === true) {
    print(JSON.stringify(records, null, 2));
    for (const warning of warnings) printError(warning);
    return 0;
  }
  for (const line of formatRoutesTable(records)) print(line);
  if (warnings.length > 0) print('');
  for (const warning of warnings) print(warning);
  return 0;
}
