import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { DEFAULT_LOGIN_BACKOFF } from './auth/login-backoff.js';
import { DEFAULT_PASSWORD_HASHING, PasswordChecker } from './auth/passwords.js';
import { TokenIssuer } from './auth/token-issuer.js';
import { loadBankOperations, type BankOperation } from './contract.js';
import { createGate } from './gate.js';
import { DEFAULT_MONEY_RULES } from './money/rules.js';
import { resolveBankOptions, type BankOptions } from './options.js';
import { BankProblem, sendProblem, statusOf, type ProblemCode } from './problems.js';
import type { BankContext, BankHandler } from './routes/context.js';
import { createLoginHandler } from './routes/login.js';
import {
  createGetAccountHandler,
  createJwksHandler,
  createListAccountsHandler,
  createListTransactionsHandler,
  createMeHandler,
} from './routes/reads.js';
import { createTransferHandler } from './routes/transfer.js';
import { openBankStore } from './store/open-store.js';
import type { BankStore } from './store/store.js';
import { createValidatorCompiler, RequestInvalid } from './validation.js';
import { sqliteErrorName } from '../sqlite/database.js';

export type { BankOptions } from './options.js';

export interface Bank {
  readonly url: string;
  readonly port: number;
  readonly store: BankStore;
  readonly tokens: TokenIssuer;
  /** The routes as fastify registered them (METHOD + URL), for the contract test. */
  readonly routes: readonly string[];
  /** Stops listening, lets requests in flight finish, closes the database. */
  close(): Promise<void>;
}

/** Handlers by operationId: the document names the operations, this table implements them. */
const HANDLERS: Readonly<Record<string, (ctx: BankContext) => BankHandler>> = {
  login: createLoginHandler,
  getJwks: createJwksHandler,
  getMe: createMeHandler,
  listAccounts: createListAccountsHandler,
  getAccount: createGetAccountHandler,
  listTransactions: createListTransactionsHandler,
  createTransfer: createTransferHandler,
};

/**
 * Starts the bank: HTTPS on loopback asking every client for a certificate, routes built from
 * openapi.yaml (an operation without a handler, or a handler without an operation, stops the
 * start), the store migrated, the gate in front of every route.
 */
export async function startBank(options: BankOptions): Promise<Bank> {
  const resolved = resolveBankOptions(options);
  const operations = await loadBankOperations();
  const store = await openBankStore(resolved.database);
  try {
    const tokens = new TokenIssuer(store, resolved.tokens);
    // Publish a key from the first moment: a gateway that reads the JWKS before the first login
    // must not find it empty and wait out its refetch cooldown.
    if ((await tokens.jwks()).keys.length === 0) await tokens.rotate();
    const ctx: BankContext = {
      store,
      tokens,
      passwords: await PasswordChecker.create(options.passwordHashing ?? DEFAULT_PASSWORD_HASHING),
      backoff: options.loginBackoff ?? DEFAULT_LOGIN_BACKOFF,
      money: options.money ?? DEFAULT_MONEY_RULES,
      now: Date.now,
    };
    const { app, routes } = createApp(resolved, operations, ctx);
    await app.listen({ host: resolved.host, port: resolved.port });
    const port = (app.server.address() as AddressInfo).port;
    return {
      url: `https://${resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host}:${port}`,
      port,
      store,
      tokens,
      routes,
      async close() {
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

function createApp(
  resolved: ReturnType<typeof resolveBankOptions>,
  operations: readonly BankOperation[],
  ctx: BankContext,
): { app: FastifyInstance; routes: string[] } {
  const app = Fastify({
    https: {
      key: resolved.tls.key,
      cert: resolved.tls.cert,
      ca: resolved.tls.ca,
      // Every client is asked for a certificate; the gate refuses all but the gateway's, except
      // for the public key set, which the gateway's JWKS fetcher reads without one.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    logger: resolved.logger,
    bodyLimit: 16_384,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 100 },
  });
  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only: fastify's built-in text/plain parser would hand strings to the body validator.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('caller', null);
  app.addHook('onRequest', createGate({ ...resolved.gate, findUser: (id) => ctx.store.findUserById(id) }));
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, 'not-found'));
  // Fastify's own record of what it registered, compared with the document by the contract test.
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  registerOperations(app, operations, ctx);
  return { app, routes };
}

function registerOperations(
  app: FastifyInstance,
  operations: readonly BankOperation[],
  ctx: BankContext,
): void {
  const unimplemented = operations
    .filter((op) => HANDLERS[op.operationId] === undefined)
    .map((op) => op.operationId);
  const undeclared = Object.keys(HANDLERS).filter((id) => !operations.some((op) => op.operationId === id));
  if (unimplemented.length > 0 || undeclared.length > 0) {
    throw new Error(
      `bank: document and handlers differ (no handler: ${unimplemented.join(', ') || '-'}; ` +
        `not in the document: ${undeclared.join(', ') || '-'})`,
    );
  }
  for (const operation of operations) {
    app.route({
      method: operation.method,
      url: operation.url,
      schema: operation.schema,
      config: { operation },
      handler: HANDLERS[operation.operationId]!(ctx),
    });
  }
}

/** Every refusal becomes a catalogued problem; nothing internal (SQL, stack, library text) leaves. */
function handleError(
  error: FastifyError | BankProblem | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof BankProblem) {
    request.log.info({ problem: error.code, reason: error.reason }, 'refused');
    return sendProblem(reply, error.code, error.headers);
  }
  const code = problemForFrameworkError(error);
  if (statusOf(code) >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ problem: code, reason: error.message }, 'refused');
  return sendProblem(reply, code);
}

function problemForFrameworkError(error: FastifyError | Error): ProblemCode {
  if (error instanceof RequestInvalid) return 'invalid-request';
  const { code, statusCode } = error as FastifyError;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'payload-too-large';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported-media-type';
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return 'invalid-request';
  return isDatabaseUnavailable(sqliteErrorName(error) ?? code) ? 'unavailable' : 'internal';
}

/** The database cannot be reached or is shutting down (PostgreSQL class 08 and 57P0x, SQLite busy). */
function isDatabaseUnavailable(code: string | undefined): boolean {
  if (code === undefined) return false;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ETIMEDOUT' ||
    code === 'SQLITE_BUSY' ||
    code.startsWith('08') ||
    code.startsWith('57P0')
  );
}
