import type { EntityManager } from 'typeorm';
import { schemaOf } from './migrations';
import { qualified } from './sql';

/**
 * Records that `consumer` handled `eventId`; false when it already had. Call it in the same
 * transaction as the consumer's effects, so an event redelivered by the relay is applied exactly once:
 *
 *   if (await markProcessed(manager, 'audit', envelope.eventId)) await apply(manager, envelope);
 *
 * The table is `<schema>.processed_events` of the manager's DataSource (see createDataSource), unless
 * `schema` says otherwise.
 */
export async function markProcessed(
  manager: EntityManager,
  consumer: string,
  eventId: string,
  schema: string = schemaOf(manager.connection),
): Promise<boolean> {
  const rows: unknown[] = await manager.query(
    `INSERT INTO ${qualified(schema, 'processed_events')} (consumer, event_id) VALUES ($1, $2)
     ON CONFLICT DO NOTHING RETURNING 1`,
    [consumer, eventId],
  );
  return rows.length === 1;
}
