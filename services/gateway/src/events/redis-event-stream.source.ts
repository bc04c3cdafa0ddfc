import { Logger } from '@nestjs/common';
import { EVENTS_STREAM, redisKey, type EventEnvelope } from '@berth/contracts';
import Redis from 'ioredis';
import { EventStreamSource, type EnvelopeHandler } from './event-stream.source';

export interface RedisEventStreamOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly group: string;
  readonly consumer: string;
  readonly blockMs?: number;
}

type StreamEntries = [id: string, fields: string[]][];
type StreamReply = [key: string, entries: StreamEntries][] | null;

/**
 * Consumer-group reader of `<namespace>:events` (entries carry the envelope JSON in field `e`, as the
 * event-store relay writes them). Re-reads its own pending entries first, so a crash mid-handler
 * redelivers; acknowledges each entry after the handler resolves.
 *
 * Stands in for libs/messaging's StreamConsumer until that lands; the port (EventStreamSource) stays.
 */
export class RedisEventStreamSource extends EventStreamSource {
  private readonly logger = new Logger('event-stream');
  private redis?: Redis;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly options: RedisEventStreamOptions) {
    super();
  }

  private get key(): string {
    return redisKey(this.options.namespace, EVENTS_STREAM);
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    const redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (e: Error) => {
      if (!this.stopped) this.logger.warn(`redis: ${e.message}`);
    });
    await redis.connect();
    try {
      await redis.xgroup('CREATE', this.key, this.options.group, '0', 'MKSTREAM');
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
    this.redis = redis;
    this.running = this.loop(redis, handler);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Disconnecting aborts a blocked XREADGROUP.
    this.redis?.disconnect();
    await this.running?.catch(() => undefined);
    this.redis = undefined;
  }

  private async loop(redis: Redis, handler: EnvelopeHandler): Promise<void> {
    let cursor = '0'; // own pending entries first, then new ones ('>')
    while (!this.stopped) {
      try {
        const reply = (await redis.xreadgroup(
          'GROUP',
          this.options.group,
          this.options.consumer,
          'COUNT',
          100,
          'BLOCK',
          this.options.blockMs ?? 2_000,
          'STREAMS',
          this.key,
          cursor,
        )) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (cursor === '0' && entries.length === 0) {
          cursor = '>';
          continue;
        }
        for (const [id, fields] of entries) {
          if (this.stopped) return;
          const envelope = parseEntry(fields);
          if (envelope) await handler(envelope);
          else this.logger.warn(`skipping malformed stream entry ${id}`);
          await redis.xack(this.key, this.options.group, id);
          if (cursor !== '>') cursor = id;
        }
      } catch (e) {
        if (this.stopped) return;
        this.logger.warn(`event stream: ${(e as Error).message}; retrying`);
        cursor = '0';
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }
}

function parseEntry(fields: string[]): EventEnvelope | null {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== 'e') continue;
    try {
      const envelope = JSON.parse(fields[i + 1]) as EventEnvelope;
      return typeof envelope?.eventId === 'string' && typeof envelope.type === 'string' ? envelope : null;
    } catch {
      return null;
    }
  }
  return null;
}
