/** Shared set-up for this library's integration tests: a fresh database with one migrated schema. */
import type { EventEnvelope } from '@berth/contracts';
import { createTestDatabase, type TestDatabase, waitFor } from '@berth/testing';
import type { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { type Checkpoint, type Projection, START } from './api';
import { EventStore } from './event-store';
import { createDataSource, type MigrationClass, runMigrations } from './migrations';

export interface TestStore {
  readonly db: TestDatabase;
  readonly dataSource: DataSource;
  readonly store: EventStore;
  close(): Promise<void>;
}

export async function openTestStore(
  options: { schema?: string; extraMigrations?: MigrationClass[]; projections?: Projection[] } = {},
): Promise<TestStore> {
  const db = await createTestDatabase('berth_event_store');
  const dataSource = createDataSource({
    url: db.url,
    schema: options.schema ?? 'volumes',
    extraMigrations: options.extraMigrations,
    poolSize: 20,
  });
  try {
    await runMigrations(dataSource);
  } catch (error) {
    await db.drop();
    throw error;
  }
  const store = new EventStore({ dataSource, projections: options.projections });
  return {
    db,
    dataSource,
    store,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await db.drop();
    },
  };
}

/**
 * Waits until readAll sees every row of the events table and returns them with the checkpoint after
 * the last. The visibility guard is cluster-wide: any open transaction on the server (another test
 * run's, say) holds back what readAll may return, so tests take baselines only once it has caught up.
 */
export async function allVisible(store: EventStore): Promise<{ events: EventEnvelope[]; checkpoint: Checkpoint }> {
  const result = await waitFor(async () => {
    const [{ n }]: { n: number }[] = await store.dataSource.query(
      `SELECT count(*)::int AS n FROM "${store.schema}".events`,
    );
    const events: EventEnvelope[] = [];
    let checkpoint = START;
    for (;;) {
      const page = await store.readAll(checkpoint, 1000);
      if (page.events.length === 0) break;
      events.push(...page.events);
      checkpoint = page.checkpoint;
    }
    return events.length === n ? { events, checkpoint } : null;
  });
  return result as { events: EventEnvelope[]; checkpoint: Checkpoint };
}

/**
 * A tiny inline projection: one row per volume, with how many events touched it. Its table comes from
 * a migration, as a service's would.
 */
export class VolumeViewMigration1700000000001 implements MigrationInterface {
  readonly name = 'VolumeViewMigration1700000000001';
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE volumes.volume_view (
        name text PRIMARY KEY,
        driver text NOT NULL,
        labels jsonb NOT NULL DEFAULT '{}',
        removed boolean NOT NULL DEFAULT false,
        touched integer NOT NULL,
        last_position bigint NOT NULL
      )`);
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE volumes.volume_view');
  }
}

export const volumeView: Projection = {
  name: 'volume-view',
  tables: ['volumes.volume_view'],
  handles: ['VolumeCreated', 'VolumeLabelled', 'VolumeRemoved'],
  async apply(manager: EntityManager, event) {
    const data = event.data as { name: string; driver?: string; labels?: Record<string, string> };
    switch (event.type) {
      case 'VolumeCreated':
        await manager.query(
          `INSERT INTO volumes.volume_view (name, driver, touched, last_position) VALUES ($1, $2, 1, $3)`,
          [data.name, data.driver ?? 'local', event.position],
        );
        return;
      case 'VolumeLabelled':
        await manager.query(
          `UPDATE volumes.volume_view SET labels = labels || $2::jsonb, touched = touched + 1, last_position = $3
           WHERE name = $1`,
          [data.name, JSON.stringify(data.labels ?? {}), event.position],
        );
        return;
      case 'VolumeRemoved':
        await manager.query(
          `UPDATE volumes.volume_view SET removed = true, touched = touched + 1, last_position = $2 WHERE name = $1`,
          [data.name, event.position],
        );
        return;
    }
  },
};

export const created = (name: string, driver = 'local') => ({
  type: 'VolumeCreated',
  data: { name, driver },
  schemaVersion: 1,
});
export const labelled = (name: string, labels: Record<string, string>) => ({
  type: 'VolumeLabelled',
  data: { name, labels },
  schemaVersion: 1,
});
export const removed = (name: string) => ({ type: 'VolumeRemoved', data: { name }, schemaVersion: 1 });
