import { loadKeysCommandConfig } from '../../config/index.js';
import { rotateSigningKey } from './signing-keys.js';

/**
 * `gatehouse signing-key rotate`: adds a new signing key to the state folder. Every gateway
 * sharing the folder publishes it within a second and signs with it `publishAheadSec` later, no
 * reload needed; the key it replaces is retired (unpublished, its file deleted) once the tokens
 * and assertions it signed have expired. Returns the exit code.
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
  const { kid, createdAt } = await rotateSigningKey(config.stateDir);
  const signsFrom = new Date(createdAt + config.signingKeyPublishAheadSec * 1000).toISOString();
  print(
    `new signing key ${kid} in ${config.stateDir}: gateways sharing that folder publish it within a second ` +
      `and sign with it from ${signsFrom}; the key it replaces is retired once the tokens it signed have expired`,
  );
  return 0;
}
