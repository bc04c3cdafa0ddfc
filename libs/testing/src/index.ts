/**
 * Test helpers for real parts: a fresh Postgres database and a Redis namespace per test run, both
 * removed afterwards. Admin URLs come from BERTH_TEST_POSTGRES / BERTH_TEST_REDIS (defaults: the local
 * servers), which is the one place tests read the environment.
 */
import { defaultBridgeName, networkNftTable } from '@berth/contracts';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
/** Removes the dir, first detaching the shim state tmpfs an executor mounted under it (see unmountStateTmpfs). */
export function createTempDir(prefix = 'berth-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    remove: () => {
      unmountStateTmpfs(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/**
 * An executor whose exec root is on disk mounts a tmpfs (source `berth-state`) on its state root, and
 * leaves it mounted as /run stays (executor-native ensureStateTmpfs). A test's exec root goes with the
 * test: each such mount at or under `path` is detached (lazily: a shim may still sit in it), deepest
 * first. Other mounts are left, so a leaked container mount still shows.
 */
export function unmountStateTmpfs(path: string): void {
  const mounts: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    const target = before?.split(' ')[4];
    const [fstype, source] = (after ?? '').split(' ');
    if (target && fstype === 'tmpfs' && source === 'berth-state' && (target === path || target.startsWith(`${path}/`))) mounts.push(target);
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
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

/**
 * A Berth namespace's nft table and bridges outlive `berth down` (like docker0); a test run removes
 * them: the table, the default bridge and every user-network bridge sharing its prefix.
 */
export function removeNamespaceNetworking(namespace: string): void {
  const sh = (args: string[]) => {
    try {
      return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      return '';
    }
  };
  sh(['nft', 'delete', 'table', 'inet', networkNftTable(namespace)]);
  const bridge = defaultBridgeName(namespace);
  for (const line of sh(['ip', '-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name && (name === bridge || name.startsWith(`${bridge.slice(0, 6)}-`))) sh(['ip', 'link', 'del', name]);
  }
}
