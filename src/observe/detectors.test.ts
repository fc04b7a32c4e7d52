import { describe, expect, it } from 'vitest';
import type { DetectorsConfig } from '../config/types.js';
import { Detectors, signalRequest, type Detection, type LoginOutcome } from './detectors.js';
import { newJourney, type JourneyRecord } from './journey.js';
import { detectorOn, detectorsConfig } from './testing.js';

const on = detectorOn;
const config = detectorsConfig;

let clock = 1_000_000;
function journey(fields: Partial<JourneyRecord>): JourneyRecord {
  return { ...newJourney(`req-${clock}`, 'GET', '10.0.0.1'), startedAt: clock, ...fields };
}
function outcome(j: JourneyRecord, extra: Partial<RequestOutcome> = {}): RequestOutcome {
  return { journey: j, login: null, username: null, probedPath: null, ...extra };
}
interface RequestOutcome {
  journey: JourneyRecord;
  login: LoginOutcome;
  username: string | null;
  probedPath: string | null;
}
/** Detectors fed outcomes one record at a time, and what they reported. */
function watch(cfg: DetectorsConfig): {
  detectors: { observe(o: RequestOutcome): void; plaintextCredential: Detectors['plaintextCredential'] };
  fired: Detection[];
} {
  const fired: Detection[] = [];
  const detectors = new Detectors(cfg, (d) => fired.push(d));
  return {
    detectors: {
      observe: (o) => signalRequest(detectors, o.journey, o.login, o.username, o.probedPath),
      plaintextCredential: (...args) => detectors.plaintextCredential(...args),
    },
    fired,
  };
}
const failedLogin = (address: string, username: string): RequestOutcome =>
  outcome(journey({ clientAddress: address, route: '/login', api: 'shop', status: 401 }), {
    login: 'failure',
    username,
  });

describe('Detectors', () => {
  it('fires once per address when failed logins reach the threshold in a window, and again in the next window', () => {
    const { detectors, fired } = watch(config({ credentialStuffing: { ...on(3), enabled: false } }));
    for (let i = 0; i < 5; i += 1) detectors.observe(failedLogin('10.0.0.1', `u${i % 2}`));
    const perAddress = fired.filter((d) => d.detector === 'failed-logins-per-address');
    expect(perAddress).toHaveLength(1);
    expect(perAddress[0]).toMatchObject({
      subjectKind: 'address',
      subject: '10.0.0.1',
      count: 3,
      ban: { kind: 'address', value: '10.0.0.1', durationMs: 600_000 },
      alert: true,
      shadow: false,
    });
    clock += 60_000;
    for (let i = 0; i < 3; i += 1) detectors.observe(failedLogin('10.0.0.1', 'x'));
    expect(fired.filter((d) => d.detector === 'failed-logins-per-address')).toHaveLength(2);
  });

  it('counts failures per username across addresses, and never bans for it', () => {
    const { detectors, fired } = watch(config());
    for (let i = 0; i < 3; i += 1) detectors.observe(failedLogin(`10.0.1.${i}`, 'bob'));
    const perUser = fired.find((d) => d.detector === 'failed-logins-per-username');
    expect(perUser).toMatchObject({ subjectKind: 'username', subject: 'bob', ban: null, alert: true });
  });

  it('sees credential stuffing: many usernames failing from one address', () => {
    const { detectors, fired } = watch(config({ failedLoginsPerAddress: { ...on(100) } }));
    for (const user of ['ann', 'ben', 'ann', 'cid']) detectors.observe(failedLogin('10.0.2.1', user));
    expect(fired.map((d) => d.detector)).toEqual(['credential-stuffing']);
    expect(fired[0]).toMatchObject({ subject: '10.0.2.1', count: 3 });
  });

  it('sees an enumeration per end user, not per the client they share, and bans the credential', () => {
    const { detectors, fired } = watch(config());
    const probe = (subject: string, token: string, id: string): void =>
      detectors.observe(
        outcome(
          journey({
            consumer: 'app',
            subject,
            credentialKind: 'jwt',
            credentialId: token,
            status: 404,
            route: '/items/{id}',
            api: 'shop',
          }),
          { probedPath: `/items/${id}` },
        ),
      );
    probe('ann', 't1', '1');
    probe('ben', 't2', '2');
    probe('cid', 't3', '3');
    expect(fired).toEqual([]); // three users of one client, one id each
    for (const id of ['4', '5', '5', '6']) probe('ann', 't1', id);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      detector: 'enumeration',
      subjectKind: 'subject',
      subject: 'ann',
      count: 3,
      ban: { kind: 'key', value: 't1' },
    });
  });

  it('sees one API key used from many addresses, and bans the key', () => {
    const { detectors, fired } = watch(config());
    for (const address of ['a', 'b', 'a', 'c']) {
      detectors.observe(
        outcome(journey({ clientAddress: address, credentialKind: 'api-key', credentialId: 'k1' })),
      );
    }
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      detector: 'key-many-addresses',
      subject: 'k1',
      ban: { kind: 'key', value: 'k1' },
    });
  });

  it("sees an upstream's error rate jump past the threshold once enough requests were sent", () => {
    const { detectors, fired } = watch(config());
    const served = journey({ api: 'shop', decidedBy: 'respond', status: 200, upstreamMs: 1 });
    const failed = journey({
      api: 'shop',
      decidedBy: 'respond',
      status: 502,
      code: 'GH_UPSTREAM_UNREACHABLE',
    });
    for (const j of [failed, failed, failed]) detectors.observe(outcome(j));
    expect(fired).toHaveLength(0); // under minRequests
    detectors.observe(outcome(served));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      detector: 'upstream-errors',
      subjectKind: 'api',
      subject: 'shop',
      count: 75,
      ban: null,
    });
  });

  it('takes no action in shadow mode, fires nothing when disabled, and bans only with the ban action', () => {
    const shadow = watch(config({ keyManyAddresses: { ...on(2), shadow: true } }));
    for (const address of ['a', 'b']) {
      shadow.detectors.observe(
        outcome(journey({ clientAddress: address, credentialKind: 'api-key', credentialId: 'k' })),
      );
    }
    expect(shadow.fired[0]).toMatchObject({ shadow: true });
    const off = watch(config({ plaintextCredential: { ...on(1), enabled: false } }));
    off.detectors.plaintextCredential('10.0.0.9', 'k2', 'r', clock);
    expect(off.fired).toEqual([]);
    const alertOnly = watch(config({ plaintextCredential: on(1, ['alert']) }));
    alertOnly.detectors.plaintextCredential('10.0.0.9', 'k2', 'r', clock);
    alertOnly.detectors.plaintextCredential('10.0.0.8', 'k2', 'r', clock);
    expect(alertOnly.fired).toHaveLength(1); // once per key and window
    expect(alertOnly.fired[0]).toMatchObject({
      detector: 'plaintext-credential',
      subject: 'k2',
      ban: null,
      alert: true,
    });
  });

  it('tracks at most maxTracked subjects', () => {
    const { detectors, fired } = watch(config({ failedLoginsPerAddress: on(2), maxTracked: 100 }));
    detectors.observe(failedLogin('first', 'u'));
    for (let i = 0; i < 100; i += 1) detectors.observe(failedLogin(`other-${i}`, `u${i}`));
    detectors.observe(failedLogin('first', 'u'));
    expect(fired.filter((d) => d.detector === 'failed-logins-per-address' && d.subject === 'first')).toEqual(
      [],
    );
  });
});
