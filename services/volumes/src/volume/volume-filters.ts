import { invalid, type VolumeView } from '@berth/contracts';

const KEYS = new Set(['name', 'driver', 'label', 'dangling']);

/**
 * Docker's volume list filters. `dangling` needs mount references (containers); until containers mount
 * volumes every volume is dangling.
 */
export function matchVolume(v: VolumeView, filters: Record<string, string[]>, inUse: ReadonlySet<string>): boolean {
  for (const key of Object.keys(filters)) {
    if (!KEYS.has(key)) throw invalid(`invalid filter '${key}'`);
  }
  const any = (key: string, test: (value: string) => boolean) => {
    const values = filters[key];
    return !values || values.length === 0 || values.some(test);
  };
  return (
    any('name', (n) => v.name.includes(n)) &&
    any('driver', (d) => v.driver === d) &&
    (filters.label ?? []).every((l) => {
      const [k, ...rest] = l.split('=');
      return rest.length ? v.labels[k!] === rest.join('=') : k! in v.labels;
    }) &&
    any('dangling', (d) => {
      const want = /^(1|true)$/i.test(d);
      if (!/^(0|1|true|false)$/i.test(d)) throw invalid(`invalid filter 'dangling=${d}'`);
      return want === !inUse.has(v.name);
    })
  );
}
