import type { EventEnvelope, VolumeEvent, VolumeView } from '@berth/contracts';
import type { Projection } from '@berth/event-store';
import type { EntityManager } from 'typeorm';

export const VOLUME_VIEW_TABLE = 'volumes.volume_view';

/** The read model `docker volume ls/inspect` answers from; updated in the append's transaction. */
export const volumeViewProjection: Projection = {
  name: 'volume_view',
  tables: [VOLUME_VIEW_TABLE],
  handles: ['VolumeCreated', 'VolumeRemoved'],
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
