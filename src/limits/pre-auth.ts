import type { Operation } from '../contract/index.js';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { BodyReader, LimitedRequest } from './request.js';
import { refusalOf, refusedBy } from './verdicts.js';
import { banRefusal, type BanList } from '../observe/bans.js';
import { bodyPending, normaliseUsername, readBodyField } from './body-field.js';
import type { ConcurrencyGuard } from './concurrency.js';
import type { DeviceCookies } from './device-cookie.js';
import type { Decision, Limiter } from './limiter.js';
import { noteDecision } from './journey-note.js';
import { boundedValue } from './key.js';
import { LimitsNote, upstreamLoginOutcome } from './note.js';
import type { PreAuthPlan } from './plan.js';
import type { PreAuthRules, Rule } from './rule.js';
import { arrivedOnClosingConnection, holdRefusal, refuseOnConnection } from './tarpit.js';
import { KnownCallers } from './known-callers.js';

/**
 * The id of the credential a request presents (an API key's id, a cached token's), found from
 * memory without verifying anything; null when it presents none or none known.
 */
export type CredentialIdentifier = (ctx: LimitedRequest) => string | null;

/** Addresses, and credentials per address, remembered as having authenticated (a day at most). */
const TRUSTED_ADDRESSES = 10_000;
const TRUSTED_PER_ADDRESS = 256;
const TRUSTED_FOR_MS = 86_400_000;

/** One shared instance: the connection is already closed, nothing is written. */
const PIPELINED_PAST_REFUSAL = new GatehouseError(
  'GH_LIMIT_RATE_EXCEEDED',
  'request pipelined behind a repeated refusal: connection closed',
);

/**
 * Before any credential is looked at: the concurrency guard, a banned address, the per-address limit, the
 * failed-authentication penalty and, on login-marked operations, the login limits and backoff
 * per address and per username. A flood or a credential-stuffing run is refused here without
 * a key-store lookup or a token verification.
 */
export class PreAuthLimiter<R extends LimitedRequest = LimitedRequest> {
  readonly #plans: ReadonlyMap<Operation, PreAuthPlan>;
  readonly #rules: PreAuthRules;
  readonly #usernameRules: readonly Rule[];
  readonly #deviceRules: readonly Rule[];
  readonly #loginRules: readonly Rule[];
  readonly #limiter: Limiter;
  readonly #concurrency: ConcurrencyGuard;
  readonly #readBody: BodyReader<R>;
  readonly #failureStatuses: ReadonlySet<number>;
  readonly #bans: BanList;
  readonly #trusted = new KnownCallers(TRUSTED_ADDRESSES, TRUSTED_PER_ADDRESS, TRUSTED_FOR_MS);
  #identify: CredentialIdentifier | null = null;
  #devices: DeviceCookies | null = null;

  constructor(options: {
    plans: ReadonlyMap<Operation, PreAuthPlan>;
    rules: PreAuthRules;
    limiter: Limiter;
    concurrency: ConcurrencyGuard;
    readBody: BodyReader<R>;
    failureStatuses: readonly number[];
    bans: BanList;
  }) {
    this.#plans = options.plans;
    this.#rules = options.rules;
    this.#usernameRules = [options.rules.loginUsername, options.rules.backoffUsername];
    this.#deviceRules = [options.rules.loginDevice, options.rules.backoffDevice];
    this.#loginRules = [
      options.rules.loginAddress,
      options.rules.backoffAddress,
      ...this.#usernameRules,
      ...this.#deviceRules,
    ];
    this.#limiter = options.limiter;
    this.#concurrency = options.concurrency;
    this.#readBody = options.readBody;
    this.#failureStatuses = new Set(options.failureStatuses);
    this.#bans = options.bans;
  }

  /**
   * Lets callers who authenticated from an address before pass its failed-authentication limit:
   * a scan of bad keys from a shared address must not lock out the valid keys behind it.
   */
  trustKnownCredentials(identify: CredentialIdentifier): void {
    this.#identify = identify;
  }

  /**
   * Lets a browser that logged in as a username before keep a login budget of its own while that
   * username is locked (device-cookie.ts): successful logins get a device cookie, and attempts
   * that bring a valid one count against the device. null turns it off.
   */
  recogniseDevices(devices: DeviceCookies | null): void {
    this.#devices = devices;
  }

  /** Whether the operation's login tests (x-gatehouse-login failedWhen) read its response's JSON. */
  readsLoginResponse(operation: Operation): boolean {
    const login = this.#plans.get(operation)?.login;
    return login != null && login.failedWhen.length > 0;
  }

  onRequest(ctx: R): void | Promise<void> {
    if (arrivedOnClosingConnection(ctx)) throw PIPELINED_PAST_REFUSAL;
    const address = ctx.journey.clientAddress;
    const shed = this.#concurrency.admit(address);
    if (shed !== null) return slowRefusal(ctx, refuseOnConnection(ctx, shed));
    const note = (ctx.limits ??= new LimitsNote());
    note.inFlight = true;
    const ban = this.#bans.size === 0 ? null : this.#bans.check('address', address);
    // Answered like a flood: a second late, and the connection closed on the second refusal.
    if (ban !== null) return slowRefusal(ctx, refuseOnConnection(ctx, banRefusal(ban)));
    const plan = this.#plans.get(ctx.route!.operation);
    if (plan === undefined) return;
    if (plan.countsFailedAuth) note.failedAuthKey = address;
    if (plan.login !== null) {
      note.loginAddressKey = address;
      if (plan.login.failedWhen.length > 0) note.loginFailedWhen = plan.login.failedWhen;
    }
    if (plan.addressRules.length === 0) return;
    const keys = new Array<string>(plan.addressRules.length).fill(address);
    const decision = this.#limiter.decide(plan.addressRules, keys);
    if (decision instanceof Promise) return decision.then((d) => this.#afterAddress(ctx, plan, d));
    return this.#afterAddress(ctx, plan, decision);
  }

  #afterAddress(ctx: R, plan: PreAuthPlan, decision: Decision): void | Promise<void> {
    noteDecision(ctx, decision);
    const refusal = refusalOf(decision);
    if (refusal !== null && !this.#knownCaller(ctx, plan, decision)) {
      this.#noteLoginRefusal(ctx, decision);
      if (refusal.status !== 429) throw refusal;
      refuseOnConnection(ctx, refusal);
      // A flood is answered slowly (see tarpit.ts); login and failed-auth refusals go out at once.
      const flood = this.#rules.perAddress;
      if (flood !== null && refusedBy(decision, flood)) return slowRefusal(ctx, refusal);
      throw refusal;
    }
    const field = plan.login?.usernameField ?? null;
    if (field === null) return;
    if (!bodyPending(ctx)) return this.#checkUsername(ctx, field);
    return Promise.resolve(this.#readBody(ctx)).then(() => this.#checkUsername(ctx, field));
  }

  #checkUsername(ctx: R, field: string): void | Promise<void> {
    const username = normaliseUsername(readBodyField(ctx, field));
    if (username === '') return; // nothing to key on: the per-address login limits still held
    const key = boundedValue(username);
    const note = ctx.limits!;
    note.loginUsernameKey = key;
    const devices = this.#devices;
    // The address limits above still held; only the username's share is the device's instead.
    const device = devices === null ? null : devices.recognise(ctx.req.headers.cookie, key);
    note.devices = devices;
    note.loginDeviceId = device;
    const rules = device === null ? this.#usernameRules : this.#deviceRules;
    const ruleKey = device ?? key;
    const decision = this.#limiter.decide(rules, [ruleKey, ruleKey]);
    if (decision instanceof Promise) return decision.then((d) => this.#enforceUsername(ctx, d));
    this.#enforceUsername(ctx, decision);
  }

  #enforceUsername(ctx: LimitedRequest, decision: Decision): void {
    this.#noteLoginRefusal(ctx, decision);
    enforce(ctx, decision);
  }

  /** Refused by the failed-authentication limit alone, with a credential that authenticated from here before. */
  #knownCaller(ctx: LimitedRequest, plan: PreAuthPlan, decision: Decision): boolean {
    if (this.#identify === null || !refusedBy(decision, this.#rules.failedAuth)) return false;
    for (const rule of plan.addressRules) {
      if (rule !== this.#rules.failedAuth && refusedBy(decision, rule)) return false;
    }
    const id = this.#identify(ctx);
    if (id === null || !this.#trusted.knows(ctx.journey.clientAddress, id, Date.now())) return false;
    return true;
  }

  /** A refusal by a login limit or backoff (not the flood or failed-authentication limits) is a failed login. */
  #noteLoginRefusal(ctx: LimitedRequest, decision: Decision): void {
    if (this.#loginRules.some((rule) => refusedBy(decision, rule))) ctx.limits!.loginRefused = true;
  }

  /** Counts failed authentications and login outcomes, and releases the concurrency slot. */
  onComplete(ctx: LimitedRequest): void {
    const note = ctx.limits;
    if (note === null) return;
    const journey = ctx.journey;
    if (note.inFlight) {
      note.inFlight = false;
      this.#concurrency.release(journey.clientAddress);
    }
    if (
      note.failedAuthKey !== null &&
      journey.status === 401 &&
      journey.code?.startsWith('GH_AUTH_') === true
    ) {
      this.#limiter.record(this.#rules.failedAuth, note.failedAuthKey, 'failure');
    } else if (note.failedAuthKey !== null && ctx.principal !== null && this.#identify !== null) {
      // Authenticated: this credential is known from this address from now on.
      this.#trusted.remember(note.failedAuthKey, ctx.principal.credential.id, Date.now());
    }
    // A login outcome is the upstream's own response; a refusal by the gateway is neither.
    const event = upstreamLoginOutcome(note, this.#failureStatuses, journey.code);
    if (event === null) return;
    this.#limiter.record(this.#rules.backoffAddress, note.loginAddressKey!, event);
    // With a device cookie, the device's own count: its failures never lock the username, and
    // its success does not clear what the clients without one have run up against it.
    if (note.loginDeviceId !== null)
      this.#limiter.record(this.#rules.backoffDevice, note.loginDeviceId, event);
    else if (note.loginUsernameKey !== null)
      this.#limiter.record(this.#rules.backoffUsername, note.loginUsernameKey, event);
  }
}

/** The refusal, held back a second when the address has not too many held already (tarpit.ts). */
function slowRefusal(ctx: LimitedRequest, refusal: GatehouseError): Promise<never> {
  const held = holdRefusal(ctx, refusal);
  if (held !== null) return held;
  throw refusal;
}

function enforce(ctx: LimitedRequest, decision: Decision): void {
  noteDecision(ctx, decision);
  const refusal = refusalOf(decision);
  if (refusal !== null) throw refusal;
}
