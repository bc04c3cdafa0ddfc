import { invalid } from '@berth/contracts';

/**
 * Schema names are interpolated into SQL (identifiers cannot be bound as parameters), so only plain
 * lower-case identifiers are accepted. The length cap leaves room for the `_events` NOTIFY channel
 * inside Postgres' 63-byte identifier limit.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw invalid(`invalid event store schema name "${schema}": use lower-case letters, digits and _`);
  }
  return schema;
}

/** `"schema"."table"`, after validating the schema name. */
export const qualified = (schema: string, table: string) => `"${assertSchemaName(schema)}"."${table}"`;

/** The channel the events table's insert trigger notifies (delivered on commit). */
export const eventsChannel = (schema: string) => `${assertSchemaName(schema)}_events`;

/** Postgres' unique_violation; with the constraint name it tells a lost append race apart. */
export const UNIQUE_VIOLATION = '23505';
export const STREAM_VERSION_CONSTRAINT = 'events_stream_version_key';

/** TypeORM wraps pg errors in QueryFailedError and copies `code`/`constraint` onto it. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return typeof e === 'object' && e !== null && e.code === UNIQUE_VIOLATION && e.constraint === constraint;
}
