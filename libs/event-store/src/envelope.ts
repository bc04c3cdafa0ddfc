import type { Actor, EventEnvelope } from '@berth/contracts';
import type { Checkpoint } from './api';

/**
 * Columns every event read selects. Timestamps are formatted by Postgres because a JS Date would
 * drop the microseconds that `occurredAt` and `occurredAtNano` promise.
 */
export const EVENT_COLUMNS = `
  global_position::text AS position,
  event_id,
  stream_id,
  version,
  type,
  schema_version,
  data,
  actor,
  to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
  (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_at_us,
  transaction_id::text AS transaction_id`;

export interface EventRow {
  readonly position: string;
  readonly event_id: string;
  readonly stream_id: string;
  readonly version: number;
  readonly type: string;
  readonly schema_version: number;
  readonly data: unknown;
  readonly actor: Actor | null;
  readonly occurred_at: string;
  readonly occurred_at_us: string;
  readonly transaction_id: string;
}

export function toEnvelope(service: string, row: EventRow): EventEnvelope {
  return {
    eventId: row.event_id,
    service,
    streamId: row.stream_id,
    version: row.version,
    position: row.position,
    type: row.type,
    data: row.data,
    schemaVersion: row.schema_version,
    actor: row.actor ?? null,
    occurredAt: row.occurred_at,
    occurredAtNano: (BigInt(row.occurred_at_us) * 1000n).toString(),
  };
}

export const checkpointOf = (row: EventRow): Checkpoint => ({
  transactionId: row.transaction_id,
  position: row.position,
});
