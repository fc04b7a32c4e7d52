import type { RateLimitRecord, RouteRecord } from './route-record.js';

const COLUMNS: readonly { readonly title: string; readonly cell: (record: RouteRecord) => string }[] = [
  { title: 'API', cell: (r) => r.api },
  { title: 'METHOD', cell: (r) => r.method },
  { title: 'PATH', cell: (r) => r.path },
  { title: 'OPERATION', cell: (r) => r.operationId ?? '-' },
  { title: 'SECURITY', cell: (r) => r.security.summary },
  { title: 'ACCESS', cell: accessCell },
  { title: 'RATE LIMITS', cell: (r) => orDash(r.rateLimits.map(rateLimitCell).join(', ')) },
  { title: 'PRE-AUTH', cell: preAuthCell },
  { title: 'REQUEST', cell: requestCell },
  { title: 'RESPONSE', cell: responseCell },
  { title: 'FORWARD', cell: (r) => orDash(r.forwardCredentials.join(',')) },
];

/** One line per operation, columns padded to their widest cell; nothing is cut. */
export function formatRoutesTable(records: readonly RouteRecord[]): string[] {
  const rows = [COLUMNS.map((c) => c.title), ...records.map((r) => COLUMNS.map((c) => c.cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function orDash(text: string): string {
  return text === '' ? '-' : text;
}

function accessCell(record: RouteRecord): string {
  const parts = record.roles === null ? [] : [`roles ${record.roles.join('|')}`];
  return orDash([...parts, ...record.conditions, ...record.responseConditions].join('; '));
}

function rateLimitCell(limit: RateLimitRecord): string {
  const per = limit.kind === 'quota' ? limit.period! : formatDuration(limit.windowMs!);
  const flags = [
    ...(limit.maxDelayMs > 0 ? [`delay<=${formatDuration(limit.maxDelayMs)}`] : []),
    ...(limit.enforced ? [] : ['shadow']),
  ];
  return `${limit.name} ${limit.limit}/${per}${flags.length === 0 ? '' : ` (${flags.join(', ')})`}`;
}

function preAuthCell(record: RouteRecord): string {
  const { rules, login } = record.preAuth;
  const field = login?.usernameField ?? null;
  const failedWhen =
    login === null || login.failedWhen.length === 0 ? '' : ` (failed when ${login.failedWhen.join(' or ')})`;
  return orDash(
    rules
      .map((name) => (name === 'login' ? `login${field === null ? '' : `[${field}]`}${failedWhen}` : name))
      .join(', '),
  );
}

function requestCell(record: RouteRecord): string {
  const { parameters, unknownQuery, body } = record.validation;
  const params =
    parameters.length === 0
      ? 'no params'
      : parameters.map((p) => `${p.in}.${p.name}${p.required ? '' : '?'}`).join(' ');
  const query = unknownQuery === 'allowed' ? ' +any query' : '';
  if (body === null) return `${params}${query}; no body`;
  const types = body.mediaTypes.map((m) => `${m.type}:${m.check}`).join(',');
  return `${params}${query}; body ${types}${body.required ? '' : ' (optional)'}`;
}

function responseCell(record: RouteRecord): string {
  const groups = new Map<string, string[]>([
    ['schema', []],
    ['no schema', []],
    ['no content', []],
  ]);
  for (const { status, content } of record.response.statuses) {
    const group =
      content.length === 0 ? 'no content' : content.some((c) => c.schema) ? 'schema' : 'no schema';
    groups.get(group)!.push(status);
  }
  const described = [...groups].filter(([, statuses]) => statuses.length > 0);
  return `${record.response.mode}: ${described.map(([group, statuses]) => `${group} ${statuses.join(' ')}`).join(', ')}`;
}

/** 60000 → "1m", 1500 → "1500ms": the shortest exact unit. */
function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
