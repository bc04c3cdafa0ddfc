import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { assertSchemaName, eventsChannel, qualified, STREAM_VERSION_CONSTRAINT } from './sql';

export type MigrationClass = new () => MigrationInterface;

/**
 * The event store's own tables inside `schema`. The timestamp is deliberately ancient so TypeORM,
 * which orders migrations by the 13-digit suffix, always runs these before a service's projection
 * migrations.
 */
export function eventStoreMigrations(schema: string): MigrationClass[] {
  assertSchemaName(schema);
  const t = (table: string) => qualified(schema, table);

  class EventStoreSchema1000000000000 implements MigrationInterface {
    readonly name = 'EventStoreSchema1000000000000';

    async up(runner: QueryRunner): Promise<void> {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await runner.query(`
        CREATE TABLE ${t('events')} (
          global_position bigserial PRIMARY KEY,
          event_id uuid NOT NULL UNIQUE,
          stream_id text NOT NULL,
          version integer NOT NULL CHECK (version > 0),
          type text NOT NULL,
          schema_version integer NOT NULL,
          data jsonb NOT NULL,
          actor jsonb,
          occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
          CONSTRAINT ${STREAM_VERSION_CONSTRAINT} UNIQUE (stream_id, version)
        )`);
      // readAll's order and filter.
      await runner.query(`CREATE INDEX events_commit_order_idx ON ${t('events')} (transaction_id, global_position)`);
      await runner.query(`
        CREATE TABLE ${t('checkpoints')} (
          name text PRIMARY KEY,
          transaction_id xid8 NOT NULL,
          position bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`);
      await runner.query(`
        CREATE TABLE ${t('processed_events')} (
          consumer text NOT NULL,
          event_id uuid NOT NULL,
          processed_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (consumer, event_id)
        )`);
      await runner.query(`
        CREATE TABLE ${t('snapshots')} (
          stream_id text PRIMARY KEY,
          version integer NOT NULL,
          schema_version integer NOT NULL,
          state jsonb NOT NULL,
          taken_at timestamptz NOT NULL DEFAULT now()
        )`);
      // Facts are never rewritten; rebuilds truncate projections, not events.
      await runner.query(`
        CREATE FUNCTION ${t('events_append_only')}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'events are append-only (% on %.events)', TG_OP, TG_TABLE_SCHEMA;
        END $$`);
      await runner.query(`
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${t('events')}
        FOR EACH ROW EXECUTE FUNCTION ${t('events_append_only')}()`);
      // NOTIFY is transactional: the relay is woken when the insert commits, never before.
      await runner.query(`
        CREATE FUNCTION ${t('events_notify')}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('${eventsChannel(schema)}', '');
          RETURN NULL;
        END $$`);
      await runner.query(`
        CREATE TRIGGER events_notify AFTER INSERT ON ${t('events')}
        FOR EACH STATEMENT EXECUTE FUNCTION ${t('events_notify')}()`);
    }

    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE IF EXISTS ${t('snapshots')}, ${t('processed_events')}, ${t('checkpoints')}, ${t('events')}`);
      await runner.query(`DROP FUNCTION IF EXISTS ${t('events_notify')}(), ${t('events_append_only')}()`);
    }
  }

  return [EventStoreSchema1000000000000];
}

export interface DataSourceConfig {
  /** postgres://user@host:port/database */
  readonly url: string;
  /** The service's schema: event store tables, projections and `<schema>.migrations` live here. */
  readonly schema: string;
  readonly entities?: PostgresConnectionOptions['entities'];
  /** The service's own migrations (projection tables); run after the event store's. */
  readonly migrations?: MigrationList;
  /** More migrations, e.g. a shared module's or a test's sample projection. */
  readonly extraMigrations?: MigrationList;
  readonly poolSize?: number;
  readonly applicationName?: string;
  readonly logging?: PostgresConnectionOptions['logging'];
}
type MigrationList = readonly (MigrationClass | string)[];

/**
 * A DataSource bound to one service schema (not yet initialized). Entities without an explicit schema
 * land in it, and TypeORM keeps its bookkeeping in `<schema>.migrations`, so services sharing one
 * database never see each other's migrations.
 */
export function createDataSource(config: DataSourceConfig): DataSource {
  const schema = assertSchemaName(config.schema);
  return new DataSource({
    type: 'postgres',
    url: config.url,
    schema,
    entities: config.entities ?? [],
    migrations: [...eventStoreMigrations(schema), ...(config.migrations ?? []), ...(config.extraMigrations ?? [])],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    migrationsRun: false,
    synchronize: false,
    poolSize: config.poolSize,
    // Idle connections stay open: pg closes them after 10 s by default, and every burst after a quiet
    // spell then paid for new backends (fork, auth, cold catalog caches, statements prepared again;
    // perf showed the burst's Postgres CPU mostly in backends born during it).
    extra: { idleTimeoutMillis: 0 },
    applicationName: config.applicationName ?? `berth-${schema}`,
    logging: config.logging ?? false,
  });
}

/**
 * Initializes `dataSource` if needed and runs its pending migrations; returns their names.
 * Instances of one service may boot together, so a session advisory lock per schema serializes them
 * (TypeORM creates `<schema>.migrations` before running anything, so the schema must exist first).
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  if (!dataSource.isInitialized) await dataSource.initialize();
  const schema = schemaOf(dataSource);
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`berth-migrations:${schema}`]);
    try {
      await lock.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      const ran = await dataSource.runMigrations({ transaction: 'each' });
      return ran.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`berth-migrations:${schema}`]);
    }
  } finally {
    await lock.release();
  }
}

/** The schema a DataSource made by `createDataSource` is bound to. */
export function schemaOf(dataSource: DataSource): string {
  const schema = (dataSource.options as PostgresConnectionOptions).schema;
  if (!schema) throw new Error('this DataSource has no schema; create it with createDataSource()');
  return assertSchemaName(schema);
}
