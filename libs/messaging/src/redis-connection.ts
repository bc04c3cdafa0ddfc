import { Logger } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';

/**
 * ioredis takes a URL only in its constructor, while BullMQ wants an options object (so it can own and
 * close its connections), so both go through this one parser.
 */
export function redisOptionsFromUrl(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`unsupported Redis URL ${url.protocol}//${url.host}: expected redis:// or rediss://`);
  }
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`invalid Redis database in URL: ${url.pathname}`);
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * A connection that logs its errors: an ioredis client without an 'error' listener prints
 * "Unhandled error event" on every reconnect attempt.
 */
export function openRedis(redisUrl: string, logger: Logger, options: RedisOptions = {}): Redis {
  const redis = new Redis({ ...redisOptionsFromUrl(redisUrl), ...options });
  redis.on('error', (err: Error) => logger.warn(`redis ${options.connectionName ?? ''}: ${err.message}`));
  return redis;
}

/** QUIT, or drop the socket when the server cannot be reached (QUIT would wait for a reconnect). */
export async function closeRedis(redis: Redis | undefined): Promise<void> {
  if (!redis) return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: the socket is gone anyway
    }
  }
  redis.disconnect();
}

/**
 * Wakes a connection blocked in BRPOP / XREADGROUP BLOCK so a loop can stop without losing an entry
 * (disconnecting instead could drop one that Redis already popped). The connection is found by its
 * CLIENT SETNAME, which ioredis re-applies after every reconnect, so a changed client id cannot fool us.
 * Returns how many connections were woken.
 */
export async function unblockByName(commands: Redis, connectionName: string): Promise<number> {
  const list = String(await commands.client('LIST'));
  let woken = 0;
  for (const line of list.split('\n')) {
    const fields = new Map(
      line
        .trim()
        .split(' ')
        .map((kv) => {
          const eq = kv.indexOf('=');
          return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
        }),
    );
    if (fields.get('name') !== connectionName) continue;
    woken += Number(await commands.client('UNBLOCK', fields.get('id') ?? '0'));
  }
  return woken;
}

/** A sleep that stop() can cut short. */
export class Sleeper {
  private wake?: () => void;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  interrupt(): void {
    this.wake?.();
  }
}

/** Resolves true when `work` settles within `ms`, false otherwise; the timer never outlives the race. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
