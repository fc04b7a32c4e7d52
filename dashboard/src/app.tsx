import type { ComponentChildren } from 'preact';
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  AdminApi,
  SignedOut,
  type Ban,
  type Journey,
  type KeyRecord,
  type SecurityEvent,
  type Summary,
} from './api.js';
import { TrafficChart } from './chart.js';
import { ago, count, journeySteps, requestIdFrom, share, THREAT_ROWS, until } from './format.js';
import './styles.css';

/** The page refreshes this often: what the gateway does shows within two seconds. */
const REFRESH_MS = 1000;
/** Events listed (the summary's counts cover every event the gateway keeps). */
const EVENT_ROWS = 50;

interface Data {
  readonly summary: Summary;
  readonly events: readonly SecurityEvent[];
  readonly bans: readonly Ban[];
  readonly keys: readonly KeyRecord[];
}

function App() {
  const [api, setApi] = useState<AdminApi | null>(null);
  const [data, setData] = useState<Data | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    AdminApi.open().then(setApi, (err: unknown) => {
      if (err instanceof SignedOut) backToSignIn();
      else setProblem(err instanceof Error ? err.message : 'the admin API did not answer');
    });
  }, []);

  const refresh = useCallback(async () => {
    if (api === null) return;
    try {
      const [summary, events, bans, keys] = await Promise.all([
        api.summary(),
        api.events(EVENT_ROWS),
        api.bans(),
        api.keys(),
      ]);
      setData({ summary, events, bans, keys });
      setProblem(null);
      setNow(Date.now());
    } catch (err) {
      if (err instanceof SignedOut) backToSignIn();
      else setProblem(err instanceof Error ? err.message : 'the admin API did not answer');
    }
  }, [api]);

  useEffect(() => {
    if (api === null) return undefined;
    let stopped = false;
    let timer = 0;
    const loop = async (): Promise<void> => {
      await refresh();
      if (!stopped) timer = window.setTimeout(loop, REFRESH_MS);
    };
    void loop();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [api, refresh]);

  const act = useCallback(
    async (action: () => Promise<unknown>) => {
      try {
        await action();
      } catch (err) {
        if (err instanceof SignedOut) return backToSignIn();
        setProblem(err instanceof Error ? err.message : 'the action failed');
      }
      await refresh();
    },
    [refresh],
  );

  if (api === null || data === null) return <p class="loading">{problem ?? 'Loading…'}</p>;
  const { summary } = data;
  /** What every Ban button of the page does: an hour, with the dashboard named as the reason. */
  const banForAnHour = (kind: Ban['kind'], value: string): Promise<void> =>
    act(() => api.ban(kind, value, '1h', 'banned from the dashboard'));
  return (
    <>
      <header class="top">
        <h1>
          <span class="mark">◆</span> Gatehouse
        </h1>
        <span class={`pill ${summary.readiness.status}`} data-testid="readiness" title={checksText(summary)}>
          {summary.readiness.status}
        </span>
        <span class="updated">updated {new Date(now).toLocaleTimeString()}</span>
        <button class="ghost" onClick={() => void act(() => api.signOut()).then(backToSignIn)}>
          Sign out
        </button>
      </header>
      {problem === null ? null : <p class="problem">{problem}</p>}
      <section class="stats">
        <Stat label="Requests" value={count(summary.totals.requests)} id="requests" />
        <Stat label="Refused" value={count(summary.totals.refused)} id="refused" tone="danger" />
        <Stat
          label="Refused share"
          value={share(summary.totals.refused, summary.totals.requests)}
          id="share"
        />
        <Stat label="Active bans" value={count(summary.bans)} id="bans" />
      </section>
      <section class="grid">
        <Card title="Traffic, last five minutes" wide>
          <TrafficChart series={summary.series} />
        </Card>
        <Card title="What each layer stopped">
          <ThreatTable summary={summary} />
        </Card>
        <Card title="Detections">
          <Detections events={summary.detections} now={now} onBan={banForAnHour} />
        </Card>
        <Card title="Active bans">
          <Bans bans={data.bans} now={now} onLift={(id) => act(() => api.lift(id))} />
        </Card>
        <Card title="Top refused addresses">
          <TopList
            rows={summary.topRefused.addresses}
            kind="address"
            onBan={(value) => banForAnHour('address', value)}
          />
        </Card>
        <Card title="Top refused consumers">
          <TopList
            rows={summary.topRefused.consumers}
            kind="consumer"
            onBan={(value) => banForAnHour('consumer', value)}
          />
        </Card>
        <Card title="Why was a request refused?">
          <JourneyLookup api={api} />
        </Card>
        <Card title="API keys" wide>
          <Keys keys={data.keys} now={now} onRevoke={(id) => act(() => api.revoke(id))} />
        </Card>
        <Card title="Recent security events" wide>
          <Events events={data.events} now={now} />
        </Card>
      </section>
    </>
  );
}

function backToSignIn(): void {
  window.location.assign('/dashboard');
}

function checksText(summary: Summary): string {
  return Object.entries(summary.readiness.checks)
    .map(([check, state]) => `${check}: ${state}`)
    .join(', ');
}

function Stat({ label, value, id, tone }: { label: string; value: string; id: string; tone?: string }) {
  return (
    <div class={`stat ${tone ?? ''}`}>
      <span class="label">{label}</span>
      <span class="value" data-testid={`stat-${id}`}>
        {value}
      </span>
    </div>
  );
}

function Card({ title, wide, children }: { title: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <article class={wide === true ? 'card wide' : 'card'}>
      <h2>{title}</h2>
      {children}
    </article>
  );
}

function ThreatTable({ summary }: { summary: Summary }) {
  const most = Math.max(1, ...Object.values(summary.threats));
  return (
    <table class="threats">
      <thead>
        <tr>
          <th>Threat</th>
          <th>Layer</th>
          <th class="num">Stopped</th>
        </tr>
      </thead>
      <tbody>
        {THREAT_ROWS.map(({ threat, label, layer }) => (
          <tr key={threat} data-testid={`threat-${threat}`}>
            <td>{label}</td>
            <td class="muted">{layer}</td>
            <td class="num">
              <span class="bar" style={{ width: `${(summary.threats[threat] * 100) / most}%` }} />
              <span class="count">{count(summary.threats[threat])}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Detections(props: {
  events: readonly SecurityEvent[];
  now: number;
  onBan: (kind: Ban['kind'], value: string) => void;
}) {
  if (props.events.length === 0) return <p class="empty">No detector has fired.</p>;
  return (
    <ul class="detections">
      {props.events.map((event) => {
        const data = event.data ?? {};
        const kind = String(data.subjectKind);
        const bannable =
          (kind === 'address' || kind === 'consumer' || kind === 'key') &&
          !String(data.actions).includes('ban');
        return (
          <li key={event.id} data-testid="detection">
            <div>
              <strong>{String(data.detector)}</strong>
              {data.shadow === true ? <span class="tag">shadow</span> : null}
              <div class="muted">
                {kind} {String(data.subject)} · {String(data.count)} (threshold {String(data.threshold)}) ·{' '}
                {ago(Date.parse(event.time), props.now)}
              </div>
            </div>
            {bannable ? (
              <button onClick={() => props.onBan(kind as Ban['kind'], String(data.subject))}>Ban 1 h</button>
            ) : (
              <span class="tag">{String(data.actions) || 'event only'}</span>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function Bans({ bans, now, onLift }: { bans: readonly Ban[]; now: number; onLift: (id: string) => void }) {
  if (bans.length === 0) return <p class="empty">No bans in force.</p>;
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            <th>Banned</th>
            <th>Why</th>
            <th>Ends</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {bans.map((ban) => (
            <tr key={ban.id} data-testid="ban">
              <td>
                <span class="tag">{ban.kind}</span> <code>{ban.value}</code>
              </td>
              <td class="muted">{ban.reason}</td>
              <td>{until(Date.parse(ban.expiresAt), now)}</td>
              <td>
                <button data-testid={`lift-${ban.id}`} onClick={() => onLift(ban.id)}>
                  Lift
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TopList(props: {
  rows: readonly { value: string; count: number }[];
  kind: string;
  onBan: (value: string) => void;
}) {
  if (props.rows.length === 0) return <p class="empty">Nothing refused.</p>;
  return (
    <ol class="top-list">
      {props.rows.map((row) => (
        <li key={row.value}>
          <code>{row.value}</code>
          <span class="count">{count(row.count)}</span>
          <button
            class="ghost"
            title={`Ban this ${props.kind} for an hour`}
            onClick={() => props.onBan(row.value)}
          >
            Ban
          </button>
        </li>
      ))}
    </ol>
  );
}

function JourneyLookup({ api }: { api: AdminApi }) {
  const [id, setId] = useState('');
  const [journey, setJourney] = useState<Journey | null | 'missing'>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const found = await api.journey(requestIdFrom(id));
    setJourney(found ?? 'missing');
  };
  return (
    <div class="journey">
      <form onSubmit={(event) => void submit(event)}>
        <input
          data-testid="journey-input"
          placeholder="X-Request-Id of an answer"
          value={id}
          onInput={(event) => setId((event.target as HTMLInputElement).value)}
          aria-label="Request id"
        />
        <button type="submit" data-testid="journey-submit">
          Look up
        </button>
      </form>
      {journey === 'missing' ? (
        <p class="empty">No journey with that id (it may have left the buffer).</p>
      ) : null}
      {journey === null || journey === 'missing' ? null : (
        <div data-testid="journey">
          <ol class="steps" data-testid="journey-steps">
            {journeySteps(journey).map((step) => (
              <li key={step.name} class={step.state}>
                {step.name}
              </li>
            ))}
          </ol>
          <dl>
            <dt>Request</dt>
            <dd>
              {journey.method} {journey.route ?? '(no route)'} → {journey.status} in {journey.durationMs} ms
            </dd>
            {journey.code === null ? null : (
              <>
                <dt>Refused</dt>
                <dd>
                  <code>{journey.code}</code> {journey.reason}
                </dd>
              </>
            )}
            <dt>Caller</dt>
            <dd>
              {journey.clientAddress}
              {journey.consumer === null
                ? ''
                : ` · ${journey.consumer} (${journey.credentialKind} ${journey.credentialId})`}
            </dd>
            {journey.contract === null ? null : (
              <>
                <dt>Contract</dt>
                <dd>{journey.contract.join('; ')}</dd>
              </>
            )}
          </dl>
        </div>
      )}
    </div>
  );
}

function Keys({
  keys,
  now,
  onRevoke,
}: {
  keys: readonly KeyRecord[];
  now: number;
  onRevoke: (id: string) => void;
}) {
  const [confirming, setConfirming] = useState<string | null>(null);
  if (keys.length === 0) return <p class="empty">No API keys.</p>;
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            <th>Key id</th>
            <th>Consumer</th>
            <th>Scopes</th>
            <th>Status</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id} data-testid="key">
              <td>
                <code>{key.id}</code>
              </td>
              <td>{key.consumer}</td>
              <td class="muted">{key.scopes.join(' ')}</td>
              <td>
                <span class={`tag ${key.status}`}>{key.status}</span>
              </td>
              <td>{key.lastUsedAt === null ? 'never' : ago(key.lastUsedAt, now)}</td>
              <td>
                {key.status !== 'active' ? null : confirming === key.id ? (
                  <button
                    class="danger"
                    data-testid={`confirm-revoke-${key.id}`}
                    onClick={() => onRevoke(key.id)}
                  >
                    Confirm revoke
                  </button>
                ) : (
                  <button data-testid={`revoke-${key.id}`} onClick={() => setConfirming(key.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Events({ events, now }: { events: readonly SecurityEvent[]; now: number }) {
  if (events.length === 0) return <p class="empty">No security events yet.</p>;
  return (
    <div class="scroll tall">
      <table class="events">
        <thead>
          <tr>
            <th>When</th>
            <th>Event</th>
            <th>Who</th>
            <th>Operation</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id} data-testid="event">
              <td class="nowrap">{ago(Date.parse(event.time), now)}</td>
              <td>
                <span class="tag">{event.type}</span>
              </td>
              <td>{[event.address, event.consumer].filter((x) => x !== null).join(' · ')}</td>
              <td>
                <code>{event.operation ?? ''}</code>
              </td>
              <td class="muted">{event.reason ?? event.code ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
