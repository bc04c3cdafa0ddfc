import { invalid, type NetworkView } from '@berth/contracts';

const KEYS = new Set(['name', 'id', 'label', 'driver', 'scope', 'type', 'dangling']);

/** Docker's `network ls` filters (values of one key OR'ed, keys AND'ed). */
export function matchNetwork(n: NetworkView, filters: Record<string, string[]>): boolean {
  for (const key of Object.keys(filters)) {
    if (!KEYS.has(key)) throw invalid(`invalid filter '${key}'`);
  }
  for (const t of filters.type ?? []) {
    if (t !== 'custom' && t !== 'builtin') throw invalid(`invalid filter: 'type'='${t}'`);
  }
  for (const d of filters.dangling ?? []) {
    if (!/^(0|1|true|false)$/i.test(d)) throw invalid(`invalid filter 'dangling=${d}'`);
  }
  const any = (key: string, test: (value: string) => boolean) => {
    const values = filters[key];
    return !values || values.length === 0 || values.some(test);
  };
  const inUse = Object.keys(n.containers).length > 0;
  return (
    any('name', (v) => n.name.includes(v)) &&
    any('id', (v) => n.id.startsWith(v)) &&
    any('driver', (v) => n.driver === v) &&
    any('scope', (v) => v === n.scope) &&
    any('type', (v) => (v === 'builtin') === n.predefined) &&
    any('dangling', (v) => /^(1|true)$/i.test(v) === (!n.predefined && !inUse)) &&
    (filters.label ?? []).every((l) => {
      const [k, ...rest] = l.split('=');
      return rest.length ? n.labels[k!] === rest.join('=') : k! in n.labels;
    })
  );
}
