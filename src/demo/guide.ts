import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import type { DemoCredentials, DemoUser } from './run-demo.js';

/**
 * Prints what `npm start` offers: the URLs, copy-paste curl lines for login, a balance and a
 * transfer, and the attack from the lesson (Alice reading Bob's account), played once against
 * the running gateway so the answer it gets is shown, not described.
 */
export async function printGuide(credentials: DemoCredentials, credentialsFile: string): Promise<void> {
  const alice = user(credentials, 'alice');
  const bob = user(credentials, 'bob');
  const ca = path.relative(process.cwd(), credentials.ca);
  const base = credentials.gateway;
  const curl = `curl -s --cacert ${ca}`;
  const attack = await readAccount(credentials, alice.apiKeys!.full, bob.accounts[0]!);
  const aliceOwn = await readAccount(credentials, alice.apiKeys!.full, alice.accounts[0]!);
  console.log(`
Gatehouse  ${base}      (the only way in: TLS, API keys / JWT, scopes, limits, validation)
The bank   https://127.0.0.1:8444  (mTLS + the gateway's signed identity only)
Admin API  ${credentials.admin.url}
Users, passwords and API keys: ${path.relative(process.cwd(), credentialsFile)} (owner-only; new on every start)

Log in as alice (password from the credentials file) and read her accounts with the token:
  TOKEN=$(${curl} -X POST ${base}/auth/login -H 'content-type: application/json' \\
    -d '{"username":"alice","password":"${alice.password}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  ${curl} ${base}/accounts -H "authorization: Bearer $TOKEN"

A balance with alice's API key:
  ${curl} ${base}/accounts/${alice.accounts[0]} -H 'x-api-key: ${alice.apiKeys!.full}'
  → ${aliceOwn}

A transfer of 12.50 from alice to bob (amounts are integer cents; the Idempotency-Key makes a retry safe):
  ${curl} -X POST ${base}/accounts/${alice.accounts[0]}/transfer -H 'x-api-key: ${alice.apiKeys!.full}' \\
    -H 'content-type: application/json' -H "idempotency-key: $(node -p 'crypto.randomUUID()')" \\
    -d '{"toAccountId":"${bob.accounts[0]}","amount":1250,"currency":"EUR"}'

The attack from the lesson — alice asks for bob's account:
  ${curl} ${base}/accounts/${bob.accounts[0]} -H 'x-api-key: ${alice.apiKeys!.full}'
  → ${attack}
  The same answer as for an account that does not exist: nothing tells alice it is bob's.

Ctrl-C stops everything.
`);
}

function user(credentials: DemoCredentials, username: string): DemoUser {
  const found = credentials.users.find((candidate) => candidate.username === username);
  if (found === undefined) throw new TypeError(`demo user ${username} was not seeded`);
  return found;
}

async function readAccount(credentials: DemoCredentials, apiKey: string, accountId: string): Promise<string> {
  const agent = new Agent({ connect: { ca: await readFile(credentials.ca, 'utf8') } });
  try {
    const answer = await request(`${credentials.gateway}/accounts/${accountId}`, {
      dispatcher: agent,
      headers: { 'x-api-key': apiKey },
    });
    return `${answer.statusCode} ${await answer.body.text()}`;
  } finally {
    await agent.close();
  }
}
