/**
 * Reading a configuration that may not have passed the schema: the checks after it still run,
 * so that every issue is reported at once, and skip whatever has the wrong shape (the schema
 * has reported it already).
 */
export type RawRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The mappings in the list `data[key]`, with their indexes. */
export function recordsIn(data: unknown, key: string): [RawRecord, number][] {
  const list = isRecord(data) ? data[key] : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown, index) =>
    isRecord(item) ? [[item, index] as [RawRecord, number]] : [],
  );
}

export function stringIn(record: RawRecord, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value : undefined;
}

export function integerIn(record: RawRecord, key: string): number | undefined {
  const value = record[key];
  return Number.isInteger(value) ? (value as number) : undefined;
}
