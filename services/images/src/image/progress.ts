import type { BerthConfig } from '@berth/config';
import { executorQueueName, type LayerProgress, type ProgressMessage, progressStreamKey } from '@berth/contracts';
import { redisOptionsFromUrl } from '@berth/messaging';
import { BERTH_CONFIG } from '@berth/service-kit';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { QueueEvents } from 'bullmq';
import Redis from 'ioredis';

/** How long an unread progress stream lives in Redis. */
const PROGRESS_TTL_S = 3600;

/** Writes Docker JSON progress messages to `<ns>:progress:<key>` (a Redis stream the gateway reads). */
export interface ProgressWriter {
  send(message: ProgressMessage): void;
  /** Resolves when everything sent so far is in Redis. */
  flush(): Promise<void>;
}

/**
 * The progress channel (docs/architecture.md): the executor reports per-blob progress as BullMQ job
 * progress; this service hears it through QueueEvents, renders Docker's messages, and XADDs them to
 * the stream named by the request's `progressKey`.
 */
@Injectable()
export class ProgressChannel implements OnModuleDestroy {
  private readonly logger = new Logger('progress');
  private readonly redis: Redis;
  private readonly events: QueueEvents;
  private readonly listeners = new Map<string, (updates: LayerProgress[]) => void>();

  constructor(@Inject(BERTH_CONFIG) private readonly config: BerthConfig) {
    this.redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, connectionName: 'berth-images-progress' });
    this.redis.on('error', (e) => this.logger.warn(`redis: ${e.message}`));
    this.events = new QueueEvents(executorQueueName(config.nodeId), {
      connection: { ...redisOptionsFromUrl(config.redisUrl), maxRetriesPerRequest: null },
      prefix: config.namespace,
    });
    this.events.on('error', (e) => this.logger.warn(`queue events: ${e.message}`));
    this.events.on('progress', ({ jobId, data }) => {
      const l = this.listeners.get(jobId);
      const updates = (data as { updates?: LayerProgress[] } | undefined)?.updates;
      if (l && Array.isArray(updates)) l(updates);
    });
  }

  writer(key: string | undefined): ProgressWriter {
    if (!key) return { send: () => undefined, flush: async () => undefined };
    const stream = progressStreamKey(this.config.namespace, key);
    let chain: Promise<unknown> = Promise.resolve();
    let first = true;
    return {
      send: (message) => {
        const payload = JSON.stringify(message);
        const expire = first;
        first = false;
        chain = chain
          .then(async () => {
            await this.redis.xadd(stream, 'MAXLEN', '~', '20000', '*', 'm', payload);
            if (expire) await this.redis.expire(stream, PROGRESS_TTL_S);
          })
          .catch((e: Error) => this.logger.warn(`progress ${key}: ${e.message}`));
      },
      flush: () => chain.then(() => undefined),
    };
  }

  /** Runs `fn` with executor progress of job `jobId` routed to `onUpdates`. */
  async withJobProgress<T>(jobId: string, onUpdates: (updates: LayerProgress[]) => void, fn: () => Promise<T>): Promise<T> {
    await this.events.waitUntilReady();
    this.listeners.set(jobId, onUpdates);
    try {
      return await fn();
    } finally {
      this.listeners.delete(jobId);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.events.close().catch(() => undefined);
    this.redis.disconnect();
  }
}
