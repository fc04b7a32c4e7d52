import { checkConfig, formatIssue } from '../config/index.js';
import { configWarnings } from '../config/warnings.js';
import { compileApi, ContractError, loadApiDocument } from '../contract/index.js';
import {
  compileContracts,
  contractOptionsOf,
  formatContractWarning,
  lintContract,
} from '../contract/validation/index.js';
import { authWarnings } from '../auth/setup.js';
import { compileOperationPlans, compilePreAuthPlans } from '../limits/plan.js';
import { compilePreAuthRules } from '../limits/rule.js';
import { probeStores } from '../process/store-probes.js';

/**
 * `gatehouse check-config`: the file, the OpenAPI documents it names (compiled as start compiles
 * them) and, unless offline, the stores it names; every problem printed, exit code 1 on any.
 */
export async function checkConfigCommand(file: string, offline: boolean): Promise<number> {
  const { config, issues } = await checkConfig(file, process.env, offline ? {} : { probeStores });
  for (const issue of issues) console.log(formatIssue(issue));
  if (config === null) return 1;
  for (const warning of configWarnings(config)) console.log(warning);
  let contractProblems = 0;
  for (const api of config.apis) {
    try {
      const compiled = compileApi(api, await loadApiDocument(api));
      compileContracts([compiled], contractOptionsOf(config));
      // The limits start compiles: an x-gatehouse-rate-limit naming no policy is refused here.
      compileOperationPlans(config.rateLimits, [compiled]);
      compilePreAuthPlans(compilePreAuthRules(config.preAuthLimit, config.rateLimits.replicas), [compiled]);
      // Warnings only: the exit code stays 0 when nothing else is wrong.
      for (const warning of lintContract(compiled)) console.log(formatContractWarning(warning));
      for (const warning of authWarnings(compiled, config)) console.log(warning);
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
