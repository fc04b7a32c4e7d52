export {
  checkConfig,
  loadConfig,
  loadKeysCommandConfig,
  type CheckOptions,
  type ConfigCheck,
  type KeysCommandConfig,
  type StoreProblem,
} from './load.js';
export { ConfigError, formatIssue, type ConfigIssue } from './issues.js';
export { configSchema } from './schema.js';
export { configDefaults } from './defaults.js';
export { parseSecretRef, readSecretRef, type SecretRef } from './secrets.js';
export type * from './types.js';
export { StoreUnavailable, describeStoreFailure, type StoreFailure } from './store-failure.js';
