export * from './api';
export { ConcurrencyError, EventStore, type EventStoreOptions, type Snapshot } from './event-store';
export {
  createDataSource,
  type DataSourceConfig,
  eventStoreMigrations,
  type MigrationClass,
  runMigrations,
  schemaOf,
} from './migrations';
export { OutboxRelay, type OutboxRelayOptions, type RelayLogger } from './relay';
export { markProcessed } from './processed-events';
export { rebuildProjections, type RebuildResult } from './projections';
export { eventsChannel } from './sql';
