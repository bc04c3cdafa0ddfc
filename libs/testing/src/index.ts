/**
 * Test helpers for real parts: a fresh Postgres database and a Redis namespace per test run, both
 * removed afterwards. Admin URLs come from BERTH_TEST_POSTGRES / BERTH_TEST_REDIS (defaults: the local
 * servers), which is the one place tests read the environment.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';

export const testPostgresAdminUrl = () =>
  process.env.BERTH_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = () => process.env.BERTH_TEST_REDIS ?? 'redis://127.0.0.1:6379/0';

export const randomSuffix = () => randomBytes(5).toString('hex');

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** CREATE DATABASE berth_test_<random>; drop() terminates its connections and drops it. */
export async function createTestDatabase(prefix = 'berth_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomSuffix()}`;
  const adminUrl = testPostgresAdminUrl();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestNamespace {
  readonly namespace: string;
  readonly redisUrl: string;
  /** Deletes every key under `<namespace>:` (BullMQ, streams, rpc lists). */
  cleanup(): Promise<void>;
}

export function createTestNamespace(prefix = 'berthtest'): TestNamespace {
  const namespace = `${prefix}-${randomSuffix()}`;
  const redisUrl = testRedisUrl();
  return {
    namespace,
    redisUrl,
    async cleanup() {
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 500);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

export interface TempDir {
  readonly path: string;
  remove(): void;
}
export function createTempDir(prefix = 'berth-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (bounded, for tests only). */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`waitFor timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
