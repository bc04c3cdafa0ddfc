/**
 * The event store's public shape. Implementation: `event-store.ts` (pg through a TypeORM DataSource),
 * tables: `migrations.ts`, relay to Redis: `relay.ts`, rebuilds: `projections.ts`.
 *
 * Layout per service schema `<schema>`:
 *   <schema>.events(global_position bigserial, event_id uuid unique, stream_id text, version int,
 *                   type text, schema_version int, data jsonb, actor jsonb, occurred_at timestamptz,
 *                   transaction_id xid8 default pg_current_xact_id(), unique(stream_id, version))
 *   <schema>.checkpoints(name text primary key, transaction_id xid8, position bigint)
 *   <schema>.processed_events(consumer text, event_id uuid, primary key(consumer, event_id))
 * Readers of "everything after a checkpoint" only see rows with
 *   transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 * so an event whose transaction commits late is never skipped (emmett's layout). The events table is
 * therefore the outbox: the relay reads it behind that guard and publishes to Redis.
 */
import type { Actor, DomainEvent, EventEnvelope } from '@berth/contracts';
import type { EntityManager } from 'typeorm';

/** `expectedVersion`: exact version, 0 = stream must not exist, 'any' = no check. */
export type ExpectedVersion = number | 'any';

export interface AppendResult {
  readonly nextExpectedVersion: number;
  readonly envelopes: EventEnvelope[];
}

/** A position in the global order that survives late commits. */
export interface Checkpoint {
  readonly transactionId: string;
  readonly position: string;
}
export const START: Checkpoint = { transactionId: '0', position: '0' };

/**
 * An inline projection: applied in the same transaction as the append, and rebuildable by replaying
 * every event (`berth projections rebuild`).
 */
export interface Projection {
  readonly name: string;
  /** Tables (schema-qualified) truncated before a rebuild. */
  readonly tables: readonly string[];
  /** Event types it cares about; others are not passed to apply. */
  readonly handles: readonly string[];
  apply(manager: EntityManager, event: EventEnvelope): Promise<void>;
  /**
   * Optional: all the envelopes of one append at once (in version order), with the caller's `hint`
   * for this projection (AppendOptions.projectionHints[name]), e.g. the state the appender already holds
   * in memory, so the projection need not read it back. Without it, apply() runs per envelope.
   */
  applyAppend?(manager: EntityManager, events: readonly EventEnvelope[], hint: unknown): Promise<void>;
  /**
   * Optional, with applyAppend: this projection's writes for one append as a single data-modifying
   * statement (INSERT/UPDATE/DELETE, no RETURNING) that the event store runs inside the append's own
   * statement, so the whole append is one round trip. `events` are the ones about to be inserted, with
   * their versions; `param(value)` adds a bind parameter and returns its placeholder (cast it);
   * `guard` is an SQL condition that holds only when the events were inserted: the statement must
   * require it. Several statements run side by side (one CTE each, on one snapshot: none sees the
   * others' writes, so they must touch different rows). Return null to take the transaction path instead.
   */
  appendStatement?(events: readonly PendingEvent[], hint: unknown, param: (value: unknown) => string, guard: string): string | readonly string[] | null;
}

/** An event of an append before it is stored (appendStatement). */
export interface PendingEvent {
  readonly streamId: string;
  readonly version: number;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

export interface AppendOptions {
  readonly actor?: Actor | null;
  /** Join an existing transaction (the command handler's). */
  readonly manager?: EntityManager;
  /**
   * false: the commit does not wait for the WAL flush (`SET LOCAL synchronous_commit = off`, ~4 ms
   * less per append on these machines). For facts the system re-derives anyway (runtime observations
   * the reconcile loop reports again): only a crash of Postgres itself can lose the last few hundred
   * ms of such commits, never an application crash, and a later durable commit flushes them in order.
   * Ignored when joining the caller's transaction. Default true.
   */
  readonly durable?: boolean;
  /** Per projection name: what its applyAppend may use (see Projection.applyAppend). */
  readonly projectionHints?: Readonly<Record<string, unknown>>;
}

export interface ReadStreamOptions {
  /** First version to return (1-based); default 1. */
  readonly fromVersion?: number;
  readonly manager?: EntityManager;
}

export interface ReadAllOptions {
  /** Read inside this transaction (the relay holds its lock in one). */
  readonly manager?: EntityManager;
}

export interface ReadAllResult {
  readonly events: EventEnvelope[];
  /** Where the next read starts: the last event's checkpoint, or `after` when nothing was read. */
  readonly checkpoint: Checkpoint;
}

export interface EventStoreApi {
  readonly schema: string;
  readonly service: string;
  append(
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly DomainEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<EventEnvelope[]>;
  /** Events committed after `after`, in commit-safe order, at most `limit` (default 1000). */
  readAll(after: Checkpoint, limit?: number, options?: ReadAllOptions): Promise<ReadAllResult>;
  /** Run `fn` in one transaction; appends made with its manager also run the inline projections. */
  transaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T>;
}
