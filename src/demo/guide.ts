import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import type { DemoCredentials, DemoUser } from './file-shapes.js';

/**
 * Prints what `npm start` offers: the URLs, copy-paste curl lines for login, a balance and a
 * transfer, and the attack from the lesson (Alice reading Bob's account), played once against
 * the running gateway so the response it gets is shown, not described.
 */
export async function printGuide(credentials: DemoCredentials, credentialsFile: string): Promise<void> {
  const alice = user(credentials, 'alice');
  const bob = user(credentials, 'bob');
  const ca = path.relative(process.cwd(), credentials.ca);
  const file = path.relative(process.cwd(), credentialsFile);
  const base = credentials.gateway;
  const admin = credentials.admin.url;
  const curl = `curl -s --cacert ${ca}`;
  const read = (expression: string): string => `$(node -p "require('./${file}').${expression}")`;
  const attack = await readAccount(credentials, alice.apiKeys!.full, bob.accounts[0]!);
  const aliceOwn = await readAccount(credentials, alice.apiKeys!.full, alice.accounts[0]!);
  // Secrets stay in the credentials file: the lines below read them into the shell, so nothing
  // secret is printed into the stream the access log shares.
  console.log(`
Gatehouse  ${base}      (the only way in: TLS, API keys / JWT, scopes, limits, validation)
The bank   https://127.0.0.1:8444  (mTLS + the gateway's signed identity only)
Admin API  ${admin}  (metrics, events, journeys, bans, keys)
Dashboard  ${admin}/dashboard  (sign in with the admin token: $ADMIN below)
Users, passwords and API keys: ${file} (owner-only; new on every start)

Read alice's key and password, and the admin token, into the shell:
  KEY=${read("users.find(u => u.username === 'alice').apiKeys.full")}
  PASSWORD=${read("users.find(u => u.username === 'alice').password")}
  ADMIN=${read('admin.token')}

Log in as alice and read her accounts with the token:
  TOKEN=$(${curl} -X POST ${base}/auth/login -H 'content-type: application/json' \\
    -d "{\\"username\\":\\"alice\\",\\"password\\":\\"$PASSWORD\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  ${curl} ${base}/accounts -H "authorization: Bearer $TOKEN"

A balance with alice's API key:
  ${curl} ${base}/accounts/${alice.accounts[0]} -H "x-api-key: $KEY"
  → ${aliceOwn}

A transfer of 12.50 from alice to bob (amounts are integer cents; the Idempotency-Key makes a retry safe):
  ${curl} -X POST ${base}/accounts/${alice.accounts[0]}/transfer -H "x-api-key: $KEY" \\
    -H 'content-type: application/json' -H "idempotency-key: $(node -p 'crypto.randomUUID()')" \\
    -d '{"toAccountId":"${bob.accounts[0]}","amount":1250,"currency":"EUR"}'

The attack from the lesson — alice asks for bob's account:
  ${curl} ${base}/accounts/${bob.accounts[0]} -H "x-api-key: $KEY"
  → ${attack}
  The same answer as for an account that does not exist: nothing tells alice it is bob's.

What Gatehouse stopped, and why (the X-Request-Id of any answer finds its journey):
  ${curl} ${admin}/events -H "authorization: Bearer $ADMIN"
  ${curl} ${admin}/journeys/REQUEST_ID -H "authorization: Bearer $ADMIN"
  ${curl} ${admin}/metrics -H "authorization: Bearer $ADMIN"
  ${curl} ${admin}/readyz
  Twenty failed logins from one address fire a detector and ban the address for a minute.

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
    const response = await request(`${credentials.gateway}/accounts/${accountId}`, {
      dispatcher: agent,
      headers: { 'x-api-key': apiKey },
    });
    return `${response.statusCode} ${await response.body.text()}`;
  } finally {
    await agent.close();
  }
}
