import { invalid } from '@berth/contracts';

/** Docker filters, normalized: key -> accepted values. */
export type Filters = Record<string, string[]>;

type QueryValue = string | string[] | undefined | unknown;

const first = (value: QueryValue): string | undefined =>
  Array.isArray(value) ? (value.length ? String(value[value.length - 1]) : undefined) : value === undefined ? undefined : String(value);

/** moby's `BoolValue`: "", "0", "no", "false", "none" (any case) are false; anything else present is true. */
export function parseBool(value: QueryValue, fallback = false): boolean {
  const v = first(value);
  if (v === undefined) return fallback;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

export function parseInteger(value: QueryValue, name: string): number | undefined {
  const v = first(value);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(`invalid value for '${name}': ${v}`);
  return Number(v);
}

export const queryString = (value: QueryValue): string | undefined => first(value);

/**
 * `filters` in either form moby accepts: map form `{"type":{"volume":true}}` (current clients) or the
 * legacy list form `{"type":["volume"]}`. Values mapped to `false` are not filters (moby ignores them).
 */
export function parseFilters(value: QueryValue): Filters {
  const raw = first(value);
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('invalid filter');
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('invalid filter');
  const out: Filters = {};
  for (const [key, values] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(values)) {
      if (!values.every((v) => typeof v === 'string')) throw invalid('invalid filter');
      out[key] = [...new Set(values as string[])];
    } else if (values !== null && typeof values === 'object') {
      const accepted: string[] = [];
      for (const [v, on] of Object.entries(values as Record<string, unknown>)) {
        if (typeof on !== 'boolean') throw invalid('invalid filter');
        if (on) accepted.push(v);
      }
      out[key] = accepted;
    } else {
      throw invalid('invalid filter');
    }
  }
  return out;
}

/** Refuses keys outside `accepted`, with moby's wording. */
export function validateFilterKeys(filters: Filters, accepted: readonly string[]): void {
  for (const key of Object.keys(filters)) {
    if (!accepted.includes(key)) throw invalid(`invalid filter '${key}'`);
  }
}
