import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { EVENTS_STREAM, EventEnvelope, ExecutorObservation, OBSERVATIONS_STREAM, redisKey } from '@berth/contracts';
import { Sleeper, closeRedis, openRedis, settlesWithin, unblockByName } from './redis-connection';

/** Every stream entry carries one JSON document in this field (the outbox relay writes it too). */
export const STREAM_FIELD = 'e';

export interface StreamConsumerOptions<T> {
  readonly redisUrl: string;
  readonly namespace: string;
  /** Stream name before the namespace prefix; default EVENTS_STREAM. */
  readonly stream?: string;
  readonly group: string;
  /** Stable across restarts (e.g. `<service>-<nodeId>`), so a restarted consumer finds its pending entries. */
  readonly consumer: string;
  /** Resolve to acknowledge. Throw to leave the entry pending: it is retried, in order, after a backoff. */
  readonly handler?: (entry: T, entryId: string) => Promise<void> | void;
  /**
   * Instead of `handler`: every entry of one read at once, in stream order (one database write for a
   * burst). Resolve to acknowledge them all; throw to leave them all pending (retried after a backoff).
   */
  readonly batchHandler?: (entries: readonly { readonly entry: T; readonly id: string }[]) => Promise<void> | void;
  /** Where a new group starts: '0' (default) for the whole stream, '$' for new entries only. */
  readonly startId?: '0' | '$';
  /** XREADGROUP BLOCK, default 5000 */
  readonly blockMs?: number;
  /** Entries per read, default 100 */
  readonly count?: number;
  /**
   * After a read that brought new entries (fewer than `count`), wait this long and take what arrived
   * meanwhile too, so one delivery carries a burst (default 0: deliver at once).
   */
  readonly coalesceMs?: number;
  /** First retry delay after a handler failure, doubled per consecutive failure; default 500 */
  readonly retryBaseMs?: number;
  /** default 30000 */
  readonly retryMaxMs?: number;
}

type StreamEntry = [id: string, fields: string[] | null];
type ReadReply = Array<[stream: string, entries: StreamEntry[]]> | null;

/**
 * Reads a Redis stream through a consumer group and acknowledges each entry after its handler resolves.
 *
 *   start ─► XGROUP CREATE (MKSTREAM) ─► read own pending ('0') ─► XREADGROUP '>' BLOCK ─┐
 *                                             ▲                                          │
 *                                             └──── handler threw: back off, re-read ◄───┘
 *
 * Starting from its own pending entries is what turns a crash between handler and XACK into a
 * redelivery; handlers dedupe by eventId. A failed entry blocks the entries after it, on purpose: a
 * projection must see a stream's events in order.
 */
export class StreamConsumer<T = EventEnvelope> {
  readonly streamKey: string;
  private readonly logger: Logger;
  private readonly connectionName: string;
  private readonly sleeper = new Sleeper();
  private reader?: Redis;
  private commands?: Redis;
  private loop?: Promise<void>;
  private stopping = false;
  /** consecutive failures, read errors and handler errors counted apart so one cannot reset the other */
  private readonly failures = { read: 0, handler: 0 };

  constructor(private readonly options: StreamConsumerOptions<T>) {
    if (!options.handler === !options.batchHandler) throw new TypeError('StreamConsumer: give exactly one of handler and batchHandler');
    this.streamKey = redisKey(options.namespace, options.stream ?? EVENTS_STREAM);
    this.logger = new Logger(`StreamConsumer(${options.group}/${options.consumer})`);
    this.connectionName = `berth-stream-${options.group}-${options.consumer}-${process.pid}`;
  }

  private starting?: Promise<void>;

  /** Resolves once the group exists and the read loop runs. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    this.stopping = false;
    const commands = openRedis(this.options.redisUrl, this.logger, { connectionName: `${this.connectionName}-cmd` });
    const reader = openRedis(this.options.redisUrl, this.logger, { connectionName: this.connectionName });
    try {
      await commands.xgroup('CREATE', this.streamKey, this.options.group, this.options.startId ?? '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) {
        commands.disconnect();
        reader.disconnect();
        throw err;
      }
    }
    this.commands = commands;
    this.reader = reader;
    this.loop = this.run(reader, commands);
  }

  /** Finishes the entry in hand (acking it if its handler succeeds), then disconnects. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.starting = undefined;
    if (!this.loop) return;
    this.stopping = true;
    this.sleeper.interrupt();
    const { reader, commands, loop } = this;
    if (commands) await unblockByName(commands, this.connectionName).catch(() => 0);
    // Unblocking can race a read not sent yet; BLOCK bounds the wait, and then the socket goes anyway.
    if (!(await settlesWithin(loop, (this.options.blockMs ?? 5000) + 1000))) reader?.disconnect();
    await loop;
    await Promise.all([closeRedis(reader), closeRedis(commands)]);
    this.reader = this.commands = this.loop = undefined;
  }

  private async run(reader: Redis, commands: Redis): Promise<void> {
    // '0' re-reads this consumer's pending entries (paging by last id); '>' asks for new ones.
    let cursor = '0';
    while (!this.stopping) {
      let entries: StreamEntry[];
      try {
        entries = await this.read(reader, cursor, this.options.count ?? 100, cursor === '>' ? (this.options.blockMs ?? 5000) : undefined);
      } catch (err) {
        if (this.stopping) break;
        if (String((err as Error).message).includes('NOGROUP')) {
          // The stream was deleted (FLUSH, cleanup): recreate the group rather than fail forever.
          await commands.xgroup('CREATE', this.streamKey, this.options.group, this.options.startId ?? '0', 'MKSTREAM').catch(() => undefined);
        }
        await this.backOff('read', `read ${this.streamKey} failed: ${(err as Error).message}`);
        continue;
      }
      this.failures.read = 0;
      if (cursor !== '>' && entries.length === 0) {
        cursor = '>';
        continue;
      }
      if (cursor === '>') entries.push(...(await this.more(reader, entries.length)));
      const failedAt = await this.deliver(entries, commands);
      if (failedAt === undefined) {
        if (cursor !== '>') cursor = entries[entries.length - 1][0];
        continue;
      }
      await this.backOff('handler', failedAt);
      cursor = '0';
    }
  }

  /** coalesceMs: the new entries that arrived within it after a read of `got` (none on a failed read; they stay for the next). */
  private async more(reader: Redis, got: number): Promise<StreamEntry[]> {
    const count = this.options.count ?? 100;
    const wait = this.options.coalesceMs ?? 0;
    if (wait <= 0 || got === 0 || got >= count || this.stopping) return [];
    await this.sleeper.sleep(wait);
    if (this.stopping) return [];
    return this.read(reader, '>', count - got).catch(() => []);
  }

  /** One XREADGROUP from `id` ('>' for new entries, else this consumer's pending ones after it); BLOCK when `blockMs` is given. */
  private async read(reader: Redis, id: string, count: number, blockMs?: number): Promise<StreamEntry[]> {
    const { group, consumer } = this.options;
    const reply = (await (blockMs === undefined
      ? reader.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', this.streamKey, id)
      : reader.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.streamKey, id))) as ReadReply;
    return reply?.[0]?.[1] ?? [];
  }

  /** Returns undefined when every entry was handled, else why it stopped. */
  private async deliver(entries: StreamEntry[], commands: Redis): Promise<string | undefined> {
    // The entries handled so far are acked together (one XACK per read, not per entry), also when a
    // later one fails or the consumer stops; an unacked one comes back and the handler's dedupe absorbs it.
    const handled: string[] = [];
    const batch = this.options.batchHandler;
    const stopped = batch ? await this.handleBatch(batch, entries, handled) : await this.handleEach(this.options.handler!, entries, handled);
    if (handled.length) {
      try {
        await commands.xack(this.streamKey, this.options.group, ...handled);
      } catch (err) {
        return stopped ?? `XACK ${handled[0]}… failed: ${(err as Error).message}`;
      }
    }
    return stopped;
  }

  /** One call for the whole read; `handled` gets every id when it succeeds, none when it throws. */
  private async handleBatch(
    batch: NonNullable<StreamConsumerOptions<T>['batchHandler']>,
    entries: StreamEntry[],
    handled: string[],
  ): Promise<string | undefined> {
    const decoded = entries.flatMap(([id, fields]) => {
      const entry = this.decode(id, fields);
      return entry === undefined ? [] : [{ entry, id }];
    });
    try {
      if (decoded.length) await batch(decoded);
    } catch (err) {
      return `batch handler failed on ${entries[0]?.[0]}… (left pending): ${(err as Error)?.stack ?? String(err)}`;
    }
    this.failures.handler = 0;
    handled.push(...entries.map(([id]) => id));
    return undefined;
  }

  /** One call per entry, in order, up to the first failure or a stop; `handled` gets the ids done. */
  private async handleEach(
    handler: NonNullable<StreamConsumerOptions<T>['handler']>,
    entries: StreamEntry[],
    handled: string[],
  ): Promise<string | undefined> {
    for (const [id, fields] of entries) {
      if (this.stopping) return 'stopping';
      const entry = this.decode(id, fields);
      if (entry !== undefined) {
        try {
          await handler(entry, id);
          this.failures.handler = 0;
        } catch (err) {
          return `handler failed on ${id} (left pending): ${(err as Error)?.stack ?? String(err)}`;
        }
      }
      handled.push(id);
    }
    return undefined;
  }

  /** undefined means "nothing to handle, just ack it": trimmed entries and malformed ones can never succeed. */
  private decode(id: string, fields: string[] | null): T | undefined {
    if (!fields) return undefined;
    const at = fields.findIndex((value, i) => i % 2 === 0 && value === STREAM_FIELD);
    const raw = at >= 0 ? fields[at + 1] : undefined;
    try {
      if (raw !== undefined) return JSON.parse(raw) as T;
    } catch {
      // logged below
    }
    this.logger.error(`skipping malformed entry ${id} on ${this.streamKey}: no JSON field '${STREAM_FIELD}'`);
    return undefined;
  }

  private async backOff(kind: keyof StreamConsumer['failures'], reason: string): Promise<void> {
    if (this.stopping) return;
    const failures = ++this.failures[kind];
    const delay = Math.min((this.options.retryBaseMs ?? 500) * 2 ** (failures - 1), this.options.retryMaxMs ?? 30_000);
    this.logger.warn(`${reason}; retrying in ${delay} ms (failure ${failures})`);
    await this.sleeper.sleep(delay);
  }
}

/**
 * The executor's way to report what happened on its node (process exited, OOM kill, shim lost); the
 * containers service consumes OBSERVATIONS_STREAM with a StreamConsumer<ExecutorObservation>.
 */
export async function publishObservation(
  redis: Redis,
  namespace: string,
  observation: ExecutorObservation,
  maxLen = 100_000,
): Promise<string> {
  const id = await redis.xadd(
    redisKey(namespace, OBSERVATIONS_STREAM),
    'MAXLEN', '~', maxLen,
    '*', STREAM_FIELD, JSON.stringify(observation),
  );
  return id ?? '';
}
