/**
 * Events are plain data with a literal `type` (PascalCase, past tense) and a `schemaVersion`.
 * Stream ids are `<aggregate>:<id>`, e.g. `volume:data`, `container:3f2a…`.
 */
export interface DomainEvent<TType extends string = string, TData = unknown> {
  readonly type: TType;
  readonly data: TData;
  readonly schemaVersion: number;
}

/** Who caused an event: the API identity, or a Berth process for observations. */
export interface Actor {
  readonly kind: 'user' | 'system';
  readonly id: string;
}

/** An event as stored and as relayed on the `berth:events` Redis stream. */
export interface EventEnvelope<E extends DomainEvent = DomainEvent> {
  /** uuid, the idempotency key for every consumer */
  readonly eventId: string;
  /** owning service, e.g. `volumes` */
  readonly service: string;
  readonly streamId: string;
  /** 1-based version within the stream */
  readonly version: number;
  /** global position within the owning service's store (bigint as decimal string) */
  readonly position: string;
  readonly type: E['type'];
  readonly data: E['data'];
  readonly schemaVersion: number;
  readonly actor: Actor | null;
  /** ISO-8601 with microseconds as Postgres stores them */
  readonly occurredAt: string;
  /** nanoseconds since the epoch as a decimal string (Docker's timeNano) */
  readonly occurredAtNano: string;
}

/** Redis stream (before the namespace prefix) that the outbox relays to. */
export const EVENTS_STREAM = 'events';

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'berth' };
