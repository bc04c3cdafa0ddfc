import type { DockerEventRecord } from './docker-event';
import type { Filters } from '../http/query-params';

/** Fields of `/events?filters=` (moby's events filter). Unknown keys are ignored like dockerd does. */
const NAME_MATCHED_TYPES = ['container', 'daemon', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'] as const;

const has = (filters: Filters, key: string) => (filters[key]?.length ?? 0) > 0;
const exact = (filters: Filters, key: string, value: string) => !has(filters, key) || filters[key].includes(value);
const fuzzy = (filters: Filters, key: string, value: string) =>
  exact(filters, key, value) || filters[key].some((prefix) => value.startsWith(prefix));

/** `busybox:latest` / `docker.io/library/busybox:1` -> `busybox` (the familiar name without tag or digest). */
export function familiarImageName(image: string): string {
  let name = image.split('@')[0];
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  }
  return name;
}

/** Whether an event passes the filters: every key must match (AND), values of one key are OR-ed. */
export function matchesEventFilters(event: DockerEventRecord, filters: Filters): boolean {
  const { actorId, attributes } = event;
  const eventMatches = ['health_status', 'exec_create', 'exec_start'].some((v) => filters.event?.includes(v))
    ? fuzzy(filters, 'event', event.action)
    : exact(filters, 'event', event.action);
  if (!eventMatches) return false;
  if (!exact(filters, 'type', event.type)) return false;
  if (!exact(filters, 'scope', event.scope)) return false;
  for (const key of NAME_MATCHED_TYPES) {
    if (!has(filters, key)) continue;
    if (!fuzzy(filters, key, actorId) && !fuzzy(filters, key, attributes.name ?? '')) return false;
  }
  if (has(filters, 'image')) {
    const imageName = (event.type === 'image' ? attributes.name : attributes.image) ?? '';
    const candidates = [actorId, imageName, familiarImageName(actorId), familiarImageName(imageName)];
    if (!candidates.some((c) => filters.image.includes(c))) return false;
  }
  if (has(filters, 'label')) {
    if (Object.keys(attributes).length === 0) return false;
    for (const label of filters.label) {
      const eq = label.indexOf('=');
      const key = eq < 0 ? label : label.slice(0, eq);
      if (!(key in attributes)) return false;
      if (eq >= 0 && attributes[key] !== label.slice(eq + 1)) return false;
    }
  }
  return true;
}

/** Event types the filters can possibly admit (for narrowing the history query), or null for all. */
export function admittedTypes(filters: Filters): string[] | null {
  return has(filters, 'type') ? filters.type : null;
}
