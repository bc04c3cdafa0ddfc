import type { EntityManager } from 'typeorm';
import type { Projection } from './api';
import type { EventStore } from './event-store';
import { qualified } from './sql';

export interface RebuildResult {
  readonly projections: string[];
  /** Events read from the store (each passed to the projections that handle its type). */
  readonly events: number;
}

const REPLAY_BATCH = 1000;

/**
 * Empties the projections' tables and replays every event in global order, all in one transaction:
 * readers see the old state until the new one commits. Appends wait meanwhile (SHARE lock on events),
 * so no event can slip between the replay and the commit; the events lock is taken before the
 * projection tables are truncated so an append already holding events cannot deadlock with us.
 */
export async function rebuildProjections(
  store: EventStore,
  projections: readonly Projection[] = store.projections,
): Promise<RebuildResult> {
  return store.transaction(async (manager) => {
    await manager.query(`LOCK TABLE ${qualified(store.schema, 'events')} IN SHARE MODE`);
    const tables = [...new Set(projections.flatMap((p) => p.tables))];
    if (tables.length > 0) await manager.query(`TRUNCATE ${tables.map(quoteTable).join(', ')}`);
    const count = await replay(store, manager, projections);
    return { projections: projections.map((p) => p.name), events: count };
  });
}

async function replay(store: EventStore, manager: EntityManager, projections: readonly Projection[]): Promise<number> {
  let after = '0';
  let count = 0;
  for (;;) {
    const events = await store.scan(manager, after, REPLAY_BATCH);
    for (const event of events) {
      for (const projection of projections) {
        if (projection.handles.includes(event.type)) await projection.apply(manager, event);
      }
    }
    count += events.length;
    if (events.length < REPLAY_BATCH) return count;
    after = events[events.length - 1].position;
  }
}

/** `schema.table` -> `"schema"."table"`; already quoted names pass through. */
function quoteTable(name: string): string {
  if (name.includes('"')) return name;
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}
