import { loadKeysCommandConfig } from '../../config/index.js';
import { rotateSigningKey } from './signing-keys.js';

/**
 * `gatehouse signing-key rotate`: adds a new signing key to the state folder. Running gateways
 * sign with it after their next reload (SIGHUP) and keep publishing the old key until the
 * tokens and assertions it signed have expired. Returns the exit code.
 */
export async function rotateSigningKeyCommand(
  options: { config: string },
  print: (line: string) => void,
): Promise<number> {
  // The state folder is all it needs: not the admin token, TLS keys or other secrets of the gateway.
  const config = await loadKeysCommandConfig(options.config);
  if (config.signingKeysConfigured) {
    print(
      'auth.signingKeys names the signing keys: rotate by putting a new key first in that list and reloading; ' +
        'remove the old one once the tokens it signed have expired',
    );
    return 1;
  }
  const kid = await rotateSigningKey(config.stateDir);
  print(`new signing key ${kid} in ${config.stateDir}; reload the gateways (SIGHUP) to sign with it`);
  return 0;
}
