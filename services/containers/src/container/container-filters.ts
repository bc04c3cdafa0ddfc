import { invalid } from '@berth/contracts';
import type { ContainerState } from './container.decider';

const KEYS = new Set([
  'id', 'name', 'label', 'status', 'exited', 'ancestor', 'before', 'since', 'network', 'volume', 'health', 'publish', 'expose', 'is-task',
]);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);
const HEALTH = new Set(['starting', 'healthy', 'unhealthy', 'none']);

function portMatches(spec: string, ports: string[]): boolean {
  // `80`, `80/tcp`, `8000-8080/tcp`
  const [range, proto] = spec.split('/');
  const [lo, hi] = (range ?? '').split('-').map(Number);
  return ports.some((p) => {
    const [n, pr = 'tcp'] = p.split('/');
    const num = Number(n);
    if (proto && pr !== proto) return false;
    return hi !== undefined && !Number.isNaN(hi) ? num >= lo! && num <= hi : num === lo;
  });
}

/** Docker's `ps --filter` semantics: values of one key OR together, keys AND together. */
export function matchContainer(
  c: ContainerState,
  filters: Record<string, string[]>,
  byRef: (ref: string) => ContainerState | undefined,
): boolean {
  for (const key of Object.keys(filters)) if (!KEYS.has(key)) throw invalid(`invalid filter '${key}'`);
  const any = (key: string, test: (v: string) => boolean) => {
    const values = filters[key];
    return !values || values.length === 0 || values.some(test);
  };
  for (const s of filters.status ?? []) {
    if (!STATUSES.has(s)) throw invalid(`invalid filter 'status=${s}'`);
  }
  for (const h of filters.health ?? []) {
    if (!HEALTH.has(h)) throw invalid(`Unrecognised filter value for health: ${h}`);
  }
  for (const e of filters.exited ?? []) {
    if (!/^-?\d+$/.test(e)) throw invalid(`invalid filter 'exited=${e}'`);
  }
  const labels = c.config.Labels ?? {};
  const exposed = Object.keys(c.config.ExposedPorts ?? {});
  const published = Object.entries(c.hostConfig.PortBindings ?? {})
    .filter(([, b]) => b && b.length)
    .flatMap(([, b]) => (b ?? []).map((x) => x.HostPort ?? ''))
    .filter(Boolean)
    .map((p) => `${p}/tcp`);
  const createdAt = (ref: string, op: string) => {
    const other = byRef(ref);
    if (!other) throw invalid(`No such container: ${ref}`);
    void op;
    return other.created;
  };
  return (
    any('id', (v) => c.id.startsWith(v)) &&
    any('name', (v) => new RegExp(v).test(`/${c.name}`)) &&
    (filters.label ?? []).every((l) => {
      const [k, ...rest] = l.split('=');
      return rest.length ? labels[k!] === rest.join('=') : k! in labels;
    }) &&
    any('status', (v) => c.status === v) &&
    any('exited', (v) => c.status === 'exited' && c.exitCode === Number(v)) &&
    any('ancestor', (v) => c.image === v || c.imageId === v || c.imageId.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, '')) || c.image === `${v}:latest`) &&
    any('before', (v) => c.created < createdAt(v, 'before')) &&
    any('since', (v) => c.created > createdAt(v, 'since')) &&
    any('network', (v) => (c.hostConfig.NetworkMode === 'default' ? 'bridge' : c.hostConfig.NetworkMode) === v) &&
    any('volume', (v) => c.mounts.some((m) => m.name === v || m.destination === v || m.source === v)) &&
    any('health', (v) => (c.health?.status ?? 'none') === v) &&
    any('publish', (v) => portMatches(v, published)) &&
    any('expose', (v) => portMatches(v, exposed)) &&
    any('is-task', (v) => v === 'false')
  );
}
