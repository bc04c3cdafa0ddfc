import { createHash, randomUUID } from 'node:crypto';
import { type DomainEvent, DomainError, ErrorCode, type EventEnvelope, invalid, traceEnd, traceStart } from '@berth/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import {
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type EventStoreApi,
  type ExpectedVersion,
  type PendingEvent,
  type Projection,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  START,
} from './api';
import { checkpointOf, EVENT_COLUMNS, type EventRow, toEnvelope } from './envelope';
import { schemaOf } from './migrations';
import { assertSchemaName, isUniqueViolation, qualified, STREAM_VERSION_CONSTRAINT } from './sql';

/** The stream was not at the expected version (the checked INSERT inserted nothing). */
class StaleVersion extends Error {}

/** A lost optimistic-concurrency race: reload the stream, decide again, retry (Docker's 409). */
export class ConcurrencyError extends DomainError {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      ErrorCode.Conflict,
      `concurrent modification of ${streamId}: expected version ${expectedVersion}, but it is at version ${actualVersion}`,
    );
    this.name = 'ConcurrencyError';
  }
}

export interface EventStoreOptions {
  readonly dataSource: DataSource;
  /** Defaults to the schema the DataSource was created with (`createDataSource`). */
  readonly schema?: string;
  /** Stamped on every envelope; defaults to the schema name. */
  readonly service?: string;
  /** Inline projections, applied in the appending transaction. */
  readonly projections?: readonly Projection[];
}

export interface Snapshot<T> {
  readonly streamId: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly state: T;
}

const DEFAULT_READ_LIMIT = 1000;
/** 'any' appends retry a lost race this many times before giving up. */
const ANY_VERSION_ATTEMPTS = 10;
const APPEND_SAVEPOINT = 'berth_event_store_append';

export class EventStore implements EventStoreApi {
  readonly schema: string;
  readonly service: string;
  readonly dataSource: DataSource;
  private readonly inline: Projection[] = [];

  constructor(options: EventStoreOptions) {
    this.dataSource = options.dataSource;
    this.schema = assertSchemaName(options.schema ?? schemaOf(options.dataSource));
    this.service = options.service ?? this.schema;
    for (const p of options.projections ?? []) this.registerProjection(p);
  }

  get projections(): readonly Projection[] {
    return this.inline;
  }

  registerProjection(projection: Projection): void {
    if (this.inline.some((p) => p.name === projection.name)) {
      throw new Error(`projection ${projection.name} is already registered`);
    }
    this.inline.push(projection);
  }

  transaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(fn);
  }

  async append(
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly DomainEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    validateAppend(streamId, expectedVersion, events);
    const t0 = traceStart();
    try {
      return await this.appendOnce(streamId, expectedVersion, events, options);
    } finally {
      traceEnd(`append ${events.map((e) => e.type).join(',')}`, t0);
    }
  }

  private async appendOnce(
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly DomainEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const given = options.manager;
    if (given?.queryRunner?.isTransactionActive) return this.appendIn(given, streamId, expectedVersion, events, options);
    if (events.length === 0) {
      const current = await this.currentVersion(given ?? this.dataSource.manager, streamId);
      if (expectedVersion !== 'any' && expectedVersion !== current) throw new ConcurrencyError(streamId, expectedVersion, current);
      return { nextExpectedVersion: current, envelopes: [] };
    }
    // One statement when every projection concerned can write inside it (one round trip, its own
    // implicit transaction); else our own transaction: BEGIN, the same checked INSERT, the inline
    // projections, COMMIT (the savepoint dance is only needed inside a caller's transaction).
    const manager = given ?? this.dataSource.manager;
    for (let attempt = 1; ; attempt++) {
      try {
        const single = this.checkedInsert(streamId, expectedVersion, events, options, true);
        if (single) return this.appended(given ? await manager.query(single.sql, single.params) : await this.prepared(single.sql, single.params));
        return await manager.transaction(async (m) => {
          const plain = this.checkedInsert(streamId, expectedVersion, events, options, false)!;
          const result = this.appended(await m.query(plain.sql, plain.params));
          await this.project(m, result.envelopes, options.projectionHints);
          return result;
        });
      } catch (error) {
        if (!isUniqueViolation(error, STREAM_VERSION_CONSTRAINT) && !(error instanceof StaleVersion)) throw error;
        if (expectedVersion === 'any' && attempt < ANY_VERSION_ATTEMPTS) continue;
        const actual = await this.currentVersion(manager, streamId);
        throw new ConcurrencyError(streamId, expectedVersion === 'any' ? actual - 1 : expectedVersion, actual);
      }
    }
  }

  /**
   * The checked INSERT: … SELECT over the stream's current version, inserting nothing when it is not
   * the expected one. With `withProjections`, each concerned projection's appendStatement joins it as
   * a further CTE guarded on the insert, or null when that is not possible (an 'any' append, a
   * projection without appendStatement or without its hint).
   */
  private checkedInsert(
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly DomainEvent[],
    options: AppendOptions,
    withProjections: boolean,
  ): { sql: string; params: unknown[] } | null {
    const params: unknown[] = [streamId, expectedVersion === 'any' ? null : expectedVersion, options.actor ? JSON.stringify(options.actor) : null];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const tuples = events.map(
      (event, i) => `(${param(randomUUID())}::uuid, ${i + 1}, ${param(event.type)}::text, ${param(event.schemaVersion)}::int, ${param(JSON.stringify(event.data ?? null))}::jsonb)`,
    );
    const writes: string[] = [];
    if (withProjections) {
      if (expectedVersion === 'any') return null;
      const hints = options.projectionHints;
      const pending: PendingEvent[] = events.map((e, i) => ({
        streamId,
        version: expectedVersion + i + 1,
        type: e.type,
        schemaVersion: e.schemaVersion,
        data: e.data ?? null,
      }));
      for (const projection of this.inline) {
        const handled = pending.filter((e) => projection.handles.includes(e.type));
        if (!handled.length) continue;
        if (!projection.appendStatement || !hints || !Object.prototype.hasOwnProperty.call(hints, projection.name)) return null;
        const sql = projection.appendStatement(handled, hints[projection.name], param, 'EXISTS (SELECT 1 FROM ins)');
        if (sql === null) return null;
        for (const one of typeof sql === 'string' ? [sql] : sql) writes.push(`p${writes.length} AS (${one})`);
      }
    }
    // set_config(..., true) is SET LOCAL: this transaction's commit does not wait for the WAL flush.
    const relaxed = options.durable === false ? `, (SELECT set_config('synchronous_commit', 'off', true)) AS cfg` : '';
    const sql = `WITH cur AS (SELECT coalesce(max(version), 0)::int AS v FROM ${this.table('events')} WHERE stream_id = $1),
       ins AS (
         INSERT INTO ${this.table('events')} (event_id, stream_id, version, type, schema_version, data, actor)
         SELECT x.event_id, $1, cur.v + x.ord, x.type, x.schema_version, x.data, $3::jsonb
         FROM cur${relaxed}, (VALUES ${tuples.join(', ')}) AS x(event_id, ord, type, schema_version, data)
         WHERE $2::int IS NULL OR cur.v = $2::int
         ORDER BY x.ord
         RETURNING ${EVENT_COLUMNS}
       )${writes.length ? `, ${writes.join(', ')}` : ''}
       SELECT * FROM ins`;
    return { sql, params };
  }

  /**
   * `sql` as a named prepared statement on a pool connection (pg prepares it once per connection):
   * the server skips parsing and, after a few runs, planning. The statement texts vary only with the
   * number of events and the projections concerned, so the names (a hash of the text) stay few.
   * Prepared statements outlive schema changes badly: migrations run before a service appends.
   */
  private async prepared(sql: string, params: unknown[]): Promise<EventRow[]> {
    const pool = (this.dataSource.driver as unknown as { master?: { query?: unknown } }).master as
      | { query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: EventRow[] }> }
      | undefined;
    if (typeof pool?.query !== 'function') return this.dataSource.manager.query(sql, params);
    const name = `berth_es_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    return (await pool.query({ name, text: sql, values: params })).rows;
  }

  /** The checked INSERT's rows as the append's result; none means the version was not the expected one. */
  private appended(rows: EventRow[]): AppendResult {
    if (rows.length === 0) throw new StaleVersion();
    const envelopes = rows.sort((a, b) => a.version - b.version).map((r) => toEnvelope(this.service, r));
    return { nextExpectedVersion: envelopes[envelopes.length - 1]!.version, envelopes };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const manager = options.manager ?? this.dataSource.manager;
    const rows: EventRow[] = await manager.query(
      `SELECT ${EVENT_COLUMNS} FROM ${this.table('events')}
       WHERE stream_id = $1 AND version >= $2 ORDER BY version`,
      [streamId, options.fromVersion ?? 1],
    );
    return rows.map((r) => toEnvelope(this.service, r));
  }

  /**
   * Only transactions older than every one still running are visible: a transaction that took its
   * id earlier but commits later would otherwise land behind a checkpoint that already passed it.
   */
  async readAll(after: Checkpoint, limit = DEFAULT_READ_LIMIT, options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const manager = options.manager ?? this.dataSource.manager;
    const rows: EventRow[] = await manager.query(
      `SELECT ${EVENT_COLUMNS} FROM ${this.table('events')}
       WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
       ORDER BY transaction_id, global_position
       LIMIT $3`,
      [after.transactionId, after.position, limit],
    );
    const last = rows.at(-1);
    return {
      events: rows.map((r) => toEnvelope(this.service, r)),
      checkpoint: last ? checkpointOf(last) : after,
    };
  }

  /**
   * Every event after `position` in global_position order, without the visibility guard: for replays
   * inside one transaction (rebuilds), not for following the log.
   */
  async scan(manager: EntityManager, afterPosition: string, limit = DEFAULT_READ_LIMIT): Promise<EventEnvelope[]> {
    const rows: EventRow[] = await manager.query(
      `SELECT ${EVENT_COLUMNS} FROM ${this.table('events')}
       WHERE global_position > $1::bigint ORDER BY global_position LIMIT $2`,
      [afterPosition, limit],
    );
    return rows.map((r) => toEnvelope(this.service, r));
  }

  async loadCheckpoint(name: string, manager: EntityManager = this.dataSource.manager): Promise<Checkpoint> {
    const rows: { transaction_id: string; position: string }[] = await manager.query(
      `SELECT transaction_id::text AS transaction_id, position::text AS position
       FROM ${this.table('checkpoints')} WHERE name = $1`,
      [name],
    );
    const row = rows[0];
    return row ? { transactionId: row.transaction_id, position: row.position } : START;
  }

  async saveCheckpoint(
    name: string,
    checkpoint: Checkpoint,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO ${this.table('checkpoints')} (name, transaction_id, position) VALUES ($1, $2::xid8, $3::bigint)
       ON CONFLICT (name) DO UPDATE
         SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()`,
      [name, checkpoint.transactionId, checkpoint.position],
    );
  }

  async loadSnapshot<T>(streamId: string, manager: EntityManager = this.dataSource.manager): Promise<Snapshot<T> | null> {
    const rows: { version: number; schema_version: number; state: T }[] = await manager.query(
      `SELECT version, schema_version, state FROM ${this.table('snapshots')} WHERE stream_id = $1`,
      [streamId],
    );
    const row = rows[0];
    return row ? { streamId, version: row.version, schemaVersion: row.schema_version, state: row.state } : null;
  }

  /** Keeps the newest snapshot per stream; an older one never overwrites a newer one. */
  async saveSnapshot<T>(snapshot: Snapshot<T>, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.query(
      `INSERT INTO ${this.table('snapshots')} (stream_id, version, schema_version, state) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (stream_id) DO UPDATE
         SET version = excluded.version, schema_version = excluded.schema_version, state = excluded.state,
             taken_at = now()
         WHERE ${this.table('snapshots')}.version <= excluded.version`,
      [snapshot.streamId, snapshot.version, snapshot.schemaVersion, JSON.stringify(snapshot.state)],
    );
  }

  private table(name: string): string {
    return qualified(this.schema, name);
  }

  /** Inside the caller's transaction: the checked INSERT under a savepoint, then the projections. */
  private async appendIn(
    manager: EntityManager,
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly DomainEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    if (events.length === 0) {
      const current = await this.currentVersion(manager, streamId);
      if (expectedVersion !== 'any' && expectedVersion !== current) throw new ConcurrencyError(streamId, expectedVersion, current);
      return { nextExpectedVersion: current, envelopes: [] };
    }
    for (let attempt = 1; ; attempt++) {
      // A savepoint keeps a caller's transaction usable after a lost race, so the conflict can be
      // reported with the version that won, and 'any' can simply retry.
      await manager.query(`SAVEPOINT ${APPEND_SAVEPOINT}`);
      let result: AppendResult;
      try {
        const plain = this.checkedInsert(streamId, expectedVersion, events, options, false)!;
        result = this.appended(await manager.query(plain.sql, plain.params));
      } catch (error) {
        await manager.query(`ROLLBACK TO SAVEPOINT ${APPEND_SAVEPOINT}`);
        if (!isUniqueViolation(error, STREAM_VERSION_CONSTRAINT) && !(error instanceof StaleVersion)) throw error;
        if (expectedVersion === 'any' && attempt < ANY_VERSION_ATTEMPTS) continue;
        const actual = await this.currentVersion(manager, streamId);
        throw new ConcurrencyError(streamId, expectedVersion === 'any' ? actual - 1 : expectedVersion, actual);
      }
      await manager.query(`RELEASE SAVEPOINT ${APPEND_SAVEPOINT}`);
      await this.project(manager, result.envelopes, options.projectionHints);
      return result;
    }
  }

  private async currentVersion(manager: EntityManager, streamId: string): Promise<number> {
    const [row]: { version: number }[] = await manager.query(
      `SELECT coalesce(max(version), 0)::int AS version FROM ${this.table('events')} WHERE stream_id = $1`,
      [streamId],
    );
    return row.version;
  }

  private async project(manager: EntityManager, envelopes: readonly EventEnvelope[], hints?: Readonly<Record<string, unknown>>): Promise<void> {
    for (const projection of this.inline) {
      const handled = envelopes.filter((e) => projection.handles.includes(e.type));
      if (!handled.length) continue;
      if (projection.applyAppend && hints && Object.prototype.hasOwnProperty.call(hints, projection.name)) {
        await projection.applyAppend(manager, handled, hints[projection.name]);
      } else {
        for (const envelope of handled) await projection.apply(manager, envelope);
      }
    }
  }
}

function validateAppend(streamId: string, expectedVersion: ExpectedVersion, events: readonly DomainEvent[]): void {
  if (!streamId) throw invalid('stream id must not be empty');
  if (expectedVersion !== 'any' && !(Number.isInteger(expectedVersion) && expectedVersion >= 0)) {
    throw invalid(`expected version must be 'any' or an integer >= 0, got ${String(expectedVersion)}`);
  }
  for (const event of events) {
    if (typeof event.type !== 'string' || !event.type) throw invalid(`event on ${streamId} has no type`);
    if (!(Number.isInteger(event.schemaVersion) && event.schemaVersion >= 1)) {
      throw invalid(`event ${event.type} on ${streamId} needs an integer schemaVersion >= 1`);
    }
  }
}
