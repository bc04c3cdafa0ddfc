import 'reflect-metadata';
import { loadConfig, type BerthConfig } from '@berth/config';
import { ErrorCode, EVENTS_STREAM, redisKey, VolumePatterns, type VolumeView, type DomainError } from '@berth/contracts';
import { RedisRpcClient } from '@berth/messaging';
import { runDomainService, rebuild, type RunningService } from '@berth/service-kit';
import { createTempDir, createTestDatabase, createTestNamespace, waitFor } from '@berth/testing';
import Redis from 'ioredis';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { volumesService } from './definition';

describe('volumes service (real Postgres, Redis, executor host)', () => {
  const ns = createTestNamespace();
  const dir = createTempDir();
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let config: BerthConfig;
  let service: RunningService;
  let executor: ChildProcess;
  let rpc: RedisRpcClient;

  before(async () => {
    db = await createTestDatabase();
    const file = join(dir.path, 'berth.json');
    writeFileSync(
      file,
      JSON.stringify({
        'data-root': join(dir.path, 'root'),
        hosts: [`unix://${join(dir.path, 'docker.sock')}`],
        postgres: db.url,
        redis: ns.redisUrl,
        namespace: ns.namespace,
        'node-id': 'test-node',
        'log-level': 'warn',
      }),
    );
    config = loadConfig({ BERTH_CONFIG: file });
    // The real executor process: services reach it only through its queue.
    executor = spawn(process.execPath, [join(__dirname, '../../../executor-native/dist/main.js')], {
      env: { ...process.env, BERTH_CONFIG: file },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    service = await runDomainService(volumesService, config);
    rpc = new RedisRpcClient({ redisUrl: ns.redisUrl, namespace: ns.namespace, defaultTimeoutMs: 10_000 });
    await rpc.connect();
  });

  after(async () => {
    await rpc?.close();
    await service?.close();
    if (executor && executor.exitCode === null) {
      executor.kill('SIGTERM');
      await once(executor, 'exit');
    }
    await db?.drop();
    await ns.cleanup();
    dir.remove();
  });

  it('creates a volume: directory on disk, view, event relayed to the stream', async () => {
    const v = await rpc.request<VolumeView>(VolumePatterns.create, { name: 'data1', labels: { team: 'a' } });
    assert.equal(v.name, 'data1');
    assert.equal(v.mountpoint, join(config['data-root'], 'volumes', 'data1', '_data'));
    assert.ok(existsSync(v.mountpoint));
    assert.deepEqual(v.labels, { team: 'a' });
    const again = await rpc.request<VolumeView>(VolumePatterns.create, { name: 'data1' });
    assert.equal(again.createdAt, v.createdAt, 'creating an existing name returns it unchanged');

    const redis = new Redis(ns.redisUrl);
    try {
      const entries = await waitFor(async () => {
        const all = await redis.xrange(redisKey(ns.namespace, EVENTS_STREAM), '-', '+');
        return all.length >= 1 ? all : null;
      });
      const envelope = JSON.parse(entries![0]![1][1]!);
      assert.equal(envelope.type, 'VolumeCreated');
      assert.equal(envelope.service, 'volumes');
      assert.equal(envelope.streamId, 'volume:data1');
    } finally {
      redis.disconnect();
    }
  });

  it('lists with filters, refuses bad names with Docker wording, removes', async () => {
    await rpc.request(VolumePatterns.create, { name: 'data2' });
    const anon = await rpc.request<VolumeView>(VolumePatterns.create, {});
    assert.match(anon.name, /^[0-9a-f]{64}$/);
    const byLabel = await rpc.request<VolumeView[]>(VolumePatterns.list, { filters: { label: ['team=a'] } });
    assert.deepEqual(byLabel.map((v) => v.name), ['data1']);
    await assert.rejects(rpc.request(VolumePatterns.create, { name: 'bad name' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.InvalidArgument);
      assert.match(e.message, /includes invalid characters for a local volume name/);
      return true;
    });
    await assert.rejects(rpc.request(VolumePatterns.inspect, { name: 'nope' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.NotFound);
      assert.equal(e.message, 'get nope: no such volume');
      return true;
    });
    const pruned = await rpc.request<{ volumesDeleted: string[] }>(VolumePatterns.prune, {});
    assert.deepEqual(pruned.volumesDeleted, [anon.name], 'prune takes only anonymous volumes by default');
    await rpc.request(VolumePatterns.remove, { name: 'data2' });
    assert.ok(!existsSync(join(config['data-root'], 'volumes', 'data2')));
    const names = (await rpc.request<VolumeView[]>(VolumePatterns.list, {})).map((v) => v.name);
    assert.deepEqual(names, ['data1']);
  });

  it('a rebuilt projection equals the live one', async () => {
    const live = await rpc.request<VolumeView[]>(VolumePatterns.list, {});
    const result = await rebuild(volumesService, config);
    assert.ok(result.events >= 4);
    const rebuilt = await rpc.request<VolumeView[]>(VolumePatterns.list, {});
    assert.deepEqual(rebuilt, live);
  });
});
