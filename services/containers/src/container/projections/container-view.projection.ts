import type { ContainerEvent, EventEnvelope } from '@berth/contracts';
import type { PendingEvent, Projection } from '@berth/event-store';
import type { EntityManager } from 'typeorm';
import { type ContainerState, evolve } from '../container.decider';

export const CONTAINER_VIEW_TABLE = 'containers.container_view';

export const CONTAINER_EVENT_TYPES: ContainerEvent['type'][] = [
  'ContainerCreated', 'ContainerStarted', 'ContainerStartFailed', 'ContainerKilled', 'ContainerExited', 'ContainerStopped',
  'ContainerRestarted', 'ContainerRestarting', 'ContainerPaused', 'ContainerUnpaused', 'ContainerOomKilled', 'ContainerRenamed',
  'ContainerUpdated', 'ContainerAttached', 'ContainerRemovalStarted', 'ContainerRemoved', 'ContainerHealthChanged',
  'ExecCreated', 'ExecStarted', 'ExecExited',
];

/**
 * The folded state of every container (jsonb), its stream version, and the columns that must be
 * unique or counted (name, status). Updated in the append's transaction, so the unique name index is
 * what settles two creates racing for one name. The service loads it once at boot into memory and
 * answers reads from there.
 */
export const containerViewProjection: Projection = {
  name: 'container_view',
  tables: [CONTAINER_VIEW_TABLE],
  handles: CONTAINER_EVENT_TYPES,
  /** The same write as applyAppend, as one statement inside the append's (see Projection.appendStatement). */
  appendStatement(events: readonly PendingEvent[], hint: unknown, param: (value: unknown) => string, guard: string): string {
    const id = events[0]!.streamId.slice('container:'.length);
    const state = events.reduce(
      (s, e) => evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as ContainerEvent),
      (hint ?? null) as ContainerState | null,
    );
    if (!state) return `DELETE FROM ${CONTAINER_VIEW_TABLE} WHERE id = ${param(id)}::text AND ${guard}`;
    return `INSERT INTO ${CONTAINER_VIEW_TABLE} (id, name, image, status, created_at, state, version)
      SELECT ${param(id)}::text, ${param(state.name)}::text, ${param(state.image)}::text, ${param(state.status)}::text,
        ${param(state.created)}::timestamptz, ${param(JSON.stringify(state))}::jsonb, ${param(events[events.length - 1]!.version)}::int
      WHERE ${guard}
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, state = EXCLUDED.state, version = EXCLUDED.version`;
  },
  /** hint: the container's state before this append (the registry's), so nothing is read back. */
  async applyAppend(manager: EntityManager, envelopes: readonly EventEnvelope[], hint: unknown): Promise<void> {
    const id = envelopes[0]!.streamId.slice('container:'.length);
    const state = envelopes.reduce(
      (s, e) => evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as ContainerEvent),
      (hint ?? null) as ContainerState | null,
    );
    if (!state) {
      await manager.query(`DELETE FROM ${CONTAINER_VIEW_TABLE} WHERE id = $1`, [id]);
      return;
    }
    await manager.query(
      `INSERT INTO ${CONTAINER_VIEW_TABLE} (id, name, image, status, created_at, state, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, state = EXCLUDED.state, version = EXCLUDED.version`,
      [id, state.name, state.image, state.status, state.created, JSON.stringify(state), envelopes[envelopes.length - 1]!.version],
    );
  },
  async apply(manager: EntityManager, envelope: EventEnvelope): Promise<void> {
    const event = { type: envelope.type, data: envelope.data, schemaVersion: envelope.schemaVersion } as ContainerEvent;
    const id = envelope.streamId.slice('container:'.length);
    if (event.type === 'ContainerCreated') {
      const state = evolve(null, event)!;
      await manager.query(
        `INSERT INTO ${CONTAINER_VIEW_TABLE} (id, name, image, status, created_at, state, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, image = EXCLUDED.image, status = EXCLUDED.status,
           created_at = EXCLUDED.created_at, state = EXCLUDED.state, version = EXCLUDED.version`,
        [id, state.name, state.image, state.status, state.created, JSON.stringify(state), envelope.version],
      );
      return;
    }
    if (event.type === 'ContainerRemoved') {
      await manager.query(`DELETE FROM ${CONTAINER_VIEW_TABLE} WHERE id = $1`, [id]);
      return;
    }
    const rows: { state: ContainerState }[] = await manager.query(`SELECT state FROM ${CONTAINER_VIEW_TABLE} WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) return;
    const next = evolve(rows[0].state, event)!;
    await manager.query(`UPDATE ${CONTAINER_VIEW_TABLE} SET name = $2, status = $3, state = $4, version = $5 WHERE id = $1`, [
      id,
      next.name,
      next.status,
      JSON.stringify(next),
      envelope.version,
    ]);
  },
};
