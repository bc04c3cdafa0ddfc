import 'reflect-metadata';
import { ErrorCode, EVENTS_STREAM, redisKey, VolumePatterns, type VolumeView, type DomainError } from '@berth/contracts';
import { rebuild } from '@berth/service-kit';
import { startTestNode, type TestNode } from '@berth/service-kit/dist/testing';
import { waitFor } from '@berth/testing';
import Redis from 'ioredis';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { volumesService } from './definition';

describe('volumes service (real Postgres, Redis, executor process)', () => {
  let node: TestNode;
  const rpc = () => node.rpc;

  before(async () => {
    node = await startTestNode(volumesService);
  });

  after(async () => {
    await node?.stop();
  });

  it('creates a volume: directory on disk, view, event relayed to the stream', async () => {
    const v = await rpc().request<VolumeView>(VolumePatterns.create, { name: 'data1', labels: { team: 'a' } });
    assert.equal(v.name, 'data1');
    assert.equal(v.mountpoint, join(node.config['data-root'], 'volumes', 'data1', '_data'));
    assert.ok(existsSync(v.mountpoint));
    assert.deepEqual(v.labels, { team: 'a' });
    const again = await rpc().request<VolumeView>(VolumePatterns.create, { name: 'data1' });
    assert.equal(again.createdAt, v.createdAt, 'creating an existing name returns it unchanged');

    const redis = new Redis(node.ns.redisUrl);
    try {
      const entries = await waitFor(async () => {
        const all = await redis.xrange(redisKey(node.ns.namespace, EVENTS_STREAM), '-', '+');
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
    await rpc().request(VolumePatterns.create, { name: 'data2' });
    const anon = await rpc().request<VolumeView>(VolumePatterns.create, {});
    assert.match(anon.name, /^[0-9a-f]{64}$/);
    const byLabel = await rpc().request<VolumeView[]>(VolumePatterns.list, { filters: { label: ['team=a'] } });
    assert.deepEqual(byLabel.map((v) => v.name), ['data1']);
    await assert.rejects(rpc().request(VolumePatterns.create, { name: 'bad name' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.InvalidArgument);
      assert.match(e.message, /includes invalid characters for a local volume name/);
      return true;
    });
    await assert.rejects(rpc().request(VolumePatterns.inspect, { name: 'nope' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.NotFound);
      assert.equal(e.message, 'get nope: no such volume');
      return true;
    });
    const pruned = await rpc().request<{ volumesDeleted: string[] }>(VolumePatterns.prune, {});
    assert.deepEqual(pruned.volumesDeleted, [anon.name], 'prune takes only anonymous volumes by default');
    await rpc().request(VolumePatterns.remove, { name: 'data2' });
    assert.ok(!existsSync(join(node.config['data-root'], 'volumes', 'data2')));
    const names = (await rpc().request<VolumeView[]>(VolumePatterns.list, {})).map((v) => v.name);
    assert.deepEqual(names, ['data1']);
  });

  it('a rebuilt projection equals the live one', async () => {
    const live = await rpc().request<VolumeView[]>(VolumePatterns.list, {});
    const result = await rebuild(volumesService, node.config);
    assert.ok(result.events >= 4);
    const rebuilt = await rpc().request<VolumeView[]>(VolumePatterns.list, {});
    assert.deepEqual(rebuilt, live);
  });
});
