import { EVENTS_STREAM, type EventEnvelope, redisKey } from '@berth/contracts';
import type Redis from 'ioredis';
import type { Pool, PoolClient } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { Checkpoint } from './api';
import type { EventStore } from './event-store';
import { eventsChannel } from './sql';

export interface RelayLogger {
  error(message: string, ...details: unknown[]): void;
}

export interface OutboxRelayOptions {
  readonly store: EventStore;
  /** The caller owns this connection (the relay never quits it). */
  readonly redis: Redis;
  /** Redis key prefix of this Berth (tests: a fresh namespace per run). */
  readonly namespace: string;
  /** Checkpoint row name; one per relay destination. Default `relay`. */
  readonly name?: string;
  /** Events per read/XADD batch. Default 500. */
  readonly batchSize?: number;
  /** Fallback wake-up when no NOTIFY arrives (late commits, lost LISTEN connection). Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /**
   * After a NOTIFY, how long to wait for more commits before reading (one transaction and one XADD
   * pipeline for all of them, out of the way of the requests that wrote them). Default 20 ms.
   */
  readonly coalesceMs?: number;
  /** Approximate cap of the Redis stream. Default 1,000,000. */
  readonly maxLen?: number;
  /**
   * Runs after a batch is on Redis and before its checkpoint is saved; throwing here is a crash at the
   * worst moment (tests use it to prove redelivery).
   */
  readonly afterPublish?: (events: readonly EventEnvelope[]) => void | Promise<void>;
  readonly logger?: RelayLogger;
}

/** How long, and how often, to re-read after a NOTIFY whose events are not yet readable. */
const NOTIFY_CHASE_MS = 5_000;
const NOTIFY_CHASE_INTERVAL_MS = 50;
/** A leading relay saves its checkpoint at most this often (and when it stops). */
const CHECKPOINT_SAVE_MS = 1_000;

/**
 * Publishes the events table to the Redis stream `<namespace>:events`, at least once:
 *
 *   read after checkpoint ──► XADD batch ──► save checkpoint ──► commit
 *                   (crash here: the batch is published again; consumers dedupe by eventId)
 *
 * One relay per schema and name does the work at a time, so extra service instances stand by instead
 * of publishing everything twice. A started relay leads with a session advisory lock on its LISTEN
 * connection: it keeps the checkpoint in memory, so a batch is one read and one XADD pipeline, and
 * saves it at most once a second and when it stops. Losing the connection (a crash included) ends
 * the lead; the next leader starts from the saved checkpoint and publishes up to a second again,
 * which consumers dedupe. Without a LISTEN connection (and in `runOnce` calls before `start`), each
 * batch is one transaction under a transaction-scoped lock, as the diagram shows.
 */
export class OutboxRelay {
  readonly streamKey: string;
  readonly name: string;
  private readonly store: EventStore;
  private readonly redis: Redis;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly maxLen: string;
  private readonly coalesceMs: number;
  private readonly afterPublish?: OutboxRelayOptions['afterPublish'];
  private readonly logger: RelayLogger;

  private loop?: Promise<void>;
  private stopping = false;
  private woken = false;
  private wakeUp?: () => void;
  private listener?: PoolClient;
  /** While this relay leads (session lock held on `listener`): where it is, and whether that is saved. */
  private lead?: { checkpoint: Checkpoint; saved: boolean; savedAt: number };
  private saveTimer?: NodeJS.Timeout;

  constructor(options: OutboxRelayOptions) {
    this.store = options.store;
    this.redis = options.redis;
    this.name = options.name ?? 'relay';
    this.streamKey = redisKey(options.namespace, EVENTS_STREAM);
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.maxLen = String(options.maxLen ?? 1_000_000);
    this.coalesceMs = options.coalesceMs ?? 20;
    this.afterPublish = options.afterPublish;
    this.logger = options.logger ?? console;
  }

  /** Publishes one batch; returns how many events went out (0 when idle or another relay holds the lock). */
  runOnce(): Promise<number> {
    return this.listener && this.loop ? this.runLeading(this.listener) : this.runInTransaction();
  }

  /** The started relay: takes the lead once (session lock on the LISTEN connection), then one read per batch. */
  private async runLeading(listener: PoolClient): Promise<number> {
    if (!this.lead) {
      const { rows } = await listener.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.lockKey]);
      if (!rows[0]?.locked || this.listener !== listener) return 0;
      this.lead = { checkpoint: await this.store.loadCheckpoint(this.name), saved: true, savedAt: Date.now() };
    }
    const lead = this.lead;
    const { events, checkpoint } = await this.store.readAll(lead.checkpoint, this.batchSize);
    if (events.length === 0) return 0;
    await this.publish(events);
    await this.afterPublish?.(events);
    if (this.lead !== lead) return events.length;
    lead.checkpoint = checkpoint;
    lead.saved = false;
    if (Date.now() - lead.savedAt >= CHECKPOINT_SAVE_MS) await this.saveLead();
    else this.saveTimer ??= setTimeout(() => void this.saveLeadLogged(), CHECKPOINT_SAVE_MS).unref();
    return events.length;
  }

  /** saveLead for a timer or stop(): a failure is logged (the next batch or leader saves again). */
  private saveLeadLogged(): Promise<void> {
    return this.saveLead().catch((e: unknown) => this.logger.error(`event relay ${this.store.schema}/${this.name}: checkpoint not saved`, e));
  }

  /** The lead's checkpoint, without waiting for the WAL flush (losing it only republishes). */
  private async saveLead(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const lead = this.lead;
    if (!lead || lead.saved) return;
    const checkpoint = lead.checkpoint;
    lead.saved = true;
    lead.savedAt = Date.now();
    try {
      await this.store.transaction(async (manager) => {
        await manager.query(`SELECT set_config('synchronous_commit', 'off', true)`);
        await this.store.saveCheckpoint(this.name, checkpoint, manager);
      });
    } catch (e) {
      if (this.lead === lead && lead.checkpoint === checkpoint) lead.saved = false;
      throw e;
    }
  }

  private get lockKey(): string {
    return `berth-relay:${this.store.schema}:${this.name}`;
  }

  private runInTransaction(): Promise<number> {
    return this.store.transaction(async (manager) => {
      // The checkpoint's commit need not wait for the WAL flush: losing it republishes the batch,
      // which consumers dedupe (at least once either way).
      const [{ locked }]: { locked: boolean }[] = await manager.query(
        `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked, set_config('synchronous_commit', 'off', true) AS relaxed`,
        [this.lockKey],
      );
      if (!locked) return 0;
      const from = await this.store.loadCheckpoint(this.name, manager);
      const { events, checkpoint } = await this.store.readAll(from, this.batchSize, { manager });
      if (events.length === 0) return 0;
      await this.publish(events);
      await this.afterPublish?.(events);
      await this.store.saveCheckpoint(this.name, checkpoint, manager);
      return events.length;
    });
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    await this.listen();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = undefined;
    await this.saveLeadLogged();
    await this.unlisten();
  }

  private async run(): Promise<void> {
    let notifiedAt: number | undefined;
    while (!this.stopping) {
      if (this.woken && this.coalesceMs > 0 && !this.stopping) await new Promise((r) => setTimeout(r, this.coalesceMs));
      if (this.woken && notifiedAt === undefined) notifiedAt = Date.now();
      this.woken = false;
      let published = 0;
      try {
        published = await this.runOnce();
      } catch (error) {
        this.logger.error(`event relay ${this.store.schema}/${this.name} failed; retrying`, error);
      }
      if (published > 0 || (notifiedAt !== undefined && Date.now() - notifiedAt > NOTIFY_CHASE_MS)) {
        notifiedAt = undefined;
      }
      if (published >= this.batchSize) continue;
      // A commit notified us but its events are still behind an older open transaction: look again
      // soon rather than a whole poll interval later.
      const chasing = notifiedAt !== undefined;
      await this.sleep(chasing ? Math.min(NOTIFY_CHASE_INTERVAL_MS, this.pollIntervalMs) : this.pollIntervalMs);
      if (!this.listener && !this.stopping) await this.listen();
    }
  }

  private async publish(events: readonly EventEnvelope[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const event of events) {
      pipeline.xadd(this.streamKey, 'MAXLEN', '~', this.maxLen, '*', 'e', JSON.stringify(event));
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  /** Best effort: without LISTEN the relay still runs on its poll interval. */
  private async listen(): Promise<void> {
    const pool = (this.store.dataSource.driver as PostgresDriver).master as Pool;
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      client.on('notification', this.onNotification);
      client.on('error', this.onListenerError);
      await client.query(`LISTEN "${eventsChannel(this.store.schema)}"`);
      this.listener = client;
    } catch (error) {
      this.logger.error(`event relay ${this.store.schema}/${this.name} cannot LISTEN; polling`, error);
      if (client) this.drop(client, true);
    }
  }

  private async unlisten(): Promise<void> {
    const client = this.listener;
    if (!client) return;
    this.listener = undefined;
    // A leader's connection holds the session lock: it is closed, not given back to the pool.
    const leading = this.lead !== undefined;
    this.lead = undefined;
    try {
      await client.query(`UNLISTEN "${eventsChannel(this.store.schema)}"`);
      this.drop(client, leading);
    } catch {
      this.drop(client, true);
    }
  }

  /** Releasing with an error makes the pool destroy the connection instead of reusing it. */
  private drop(client: PoolClient, destroy: boolean): void {
    client.removeListener('notification', this.onNotification);
    client.removeListener('error', this.onListenerError);
    client.release(destroy);
  }

  private readonly onNotification = () => this.wake();

  private readonly onListenerError = (error: Error) => {
    this.logger.error(`event relay ${this.store.schema}/${this.name} lost its LISTEN connection`, error);
    const client = this.listener;
    this.listener = undefined;
    this.lead = undefined; // the lock went with the connection
    // A dead connection would keep emitting; keep one listener so pg does not throw unhandled errors.
    if (client) {
      client.removeListener('notification', this.onNotification);
      client.release(error);
    }
    this.wake();
  };
}
