import type { EventEnvelope, VolumeEvent, VolumeView } from '@berth/contracts';
import type { Projection } from '@berth/event-store';
import type { EntityManager } from 'typeorm';

export const VOLUME_VIEW_TABLE = 'volumes.volume_view';
/** Mount references: (volume, container) pairs, one per container that uses the volume. */
export const VOLUME_REFS_TABLE = 'volumes.volume_refs';

/** The read model `docker volume ls/inspect` answers from; updated in the append's transaction. */
export const volumeViewProjection: Projection = {
  name: 'volume_view',
  tables: [VOLUME_VIEW_TABLE, VOLUME_REFS_TABLE],
  handles: ['VolumeCreated', 'VolumeRemoved', 'VolumeMounted', 'VolumeUnmounted'],
  async apply(manager: EntityManager, envelope: EventEnvelope): Promise<void> {
    const event = { type: envelope.type, data: envelope.data } as VolumeEvent;
    switch (event.type) {
      case 'VolumeCreated':
        await manager.query(
          `INSERT INTO ${VOLUME_VIEW_TABLE} (name, driver, mountpoint, labels, options, anonymous, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (name) DO UPDATE SET driver = EXCLUDED.driver, mountpoint = EXCLUDED.mountpoint,
             labels = EXCLUDED.labels, options = EXCLUDED.options, anonymous = EXCLUDED.anonymous,
             created_at = EXCLUDED.created_at`,
          [
            event.data.name,
            event.data.driver,
            event.data.mountpoint,
            JSON.stringify(event.data.labels),
            JSON.stringify(event.data.options),
            event.data.anonymous,
            envelope.occurredAt,
          ],
        );
        return;
      case 'VolumeRemoved':
        await manager.query(`DELETE FROM ${VOLUME_VIEW_TABLE} WHERE name = $1`, [event.data.name]);
        await manager.query(`DELETE FROM ${VOLUME_REFS_TABLE} WHERE name = $1`, [event.data.name]);
        return;
      case 'VolumeMounted':
        await manager.query(
          `INSERT INTO ${VOLUME_REFS_TABLE} (name, container_id, destination, readonly, mounted_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (name, container_id) DO NOTHING`,
          [event.data.name, event.data.containerId, event.data.destination, event.data.readonly, envelope.occurredAt],
        );
        return;
      case 'VolumeUnmounted':
        await manager.query(`DELETE FROM ${VOLUME_REFS_TABLE} WHERE name = $1 AND container_id = $2`, [event.data.name, event.data.containerId]);
        return;
    }
  },
};

interface VolumeRow {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
  created_at: Date;
}

export const toVolumeView = (row: VolumeRow): VolumeView => ({
  name: row.name,
  driver: row.driver,
  mountpoint: row.mountpoint,
  labels: row.labels,
  options: row.options,
  anonymous: row.anonymous,
  scope: 'local',
  createdAt: row.created_at.toISOString().replace(/\.\d+Z$/, 'Z'),
});

export type { VolumeRow };
