import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'bullmq';
import Redis from 'ioredis';
import { DomainError, ErrorCode, ExecutorJob, executorQueueName, notFound } from '@berth/contracts';
import { createTestNamespace, waitFor } from '@berth/testing';
import { ExecutorQueueClient, createExecutorWorker, decodeJobFailure, encodeJobFailure, type ExecutorHandlers } from './executor-queue';

describe('executor queue (BullMQ)', () => {
  const ns = createTestNamespace();
  const base = { redisUrl: ns.redisUrl, namespace: ns.namespace };
  const created: string[] = [];
  let worker: Worker;
  let client: ExecutorQueueClient;
  let idle: ExecutorQueueClient;
  const seenAuth: string[] = [];

  before(async () => {
    worker = createExecutorWorker({
      ...base,
      nodeId: 'n1',
      concurrency: 4,
      handlers: {
        [ExecutorJob.Ping]: async () => ({ nodeId: 'n1', pid: process.pid }),
        [ExecutorJob.CreateVolumeDir]: async ({ name }) => {
          created.push(name);
          return { mountpoint: `/data/volumes/${name}/_data` };
        },
        [ExecutorJob.RemoveVolumeDir]: async ({ name }) => {
          if (name === 'missing') throw notFound(`get ${name}: no such volume`);
          throw new Error(`rm ${name}: EBUSY`);
        },
        [ExecutorJob.ImagePullLayers]: async (payload) => {
          seenAuth.push(payload.registry.registryAuth ?? '');
          return { layers: [] };
        },
        // The test exercises a few jobs; the executor itself must handle every job (the type enforces it).
      } as Partial<ExecutorHandlers> as ExecutorHandlers,
    });
    await worker.waitUntilReady();
    client = new ExecutorQueueClient({ ...base, nodeId: 'n1' });
    idle = new ExecutorQueueClient({ ...base, nodeId: 'nobody' });
  });

  after(async () => {
    await Promise.all([client.close(), idle.close(), worker.close()]);
    await ns.cleanup();
  });

  it('runs a job and returns its typed result', async () => {
    const result = await client.run(ExecutorJob.Ping, {}, { timeoutMs: 5000 });
    assert.deepEqual(result, { nodeId: 'n1', pid: process.pid });
    const dir = await client.run(ExecutorJob.CreateVolumeDir, { name: 'data' });
    assert.equal(dir.mountpoint, '/data/volumes/data/_data');
  });

  it('a queued job\'s credentials reach the handler but are not kept in Redis', async () => {
    await client.run(
      ExecutorJob.ImagePullLayers,
      { registry: { domain: '127.0.0.1:5000', path: 'x', registryAuth: 'c2VjcmV0' }, layers: [], blobs: [] },
      { timeoutMs: 5000, jobId: 'pull-secret' },
    );
    assert.deepEqual(seenAuth, ['c2VjcmV0']);
    const redis = new Redis(ns.redisUrl);
    try {
      const data = await redis.hget(`${ns.namespace}:${executorQueueName('n1')}:pull-secret`, 'data');
      assert.ok(data, 'the completed job is still stored');
      assert.doesNotMatch(data, /c2VjcmV0|registryAuth/);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps its keys under the namespace', async () => {
    const redis = new Redis(ns.redisUrl);
    try {
      const keys = await redis.keys(`${ns.namespace}:${executorQueueName('n1')}:*`);
      assert.ok(keys.length > 0);
    } finally {
      redis.disconnect();
    }
  });

  it('rejects with the executor DomainError, code preserved', async () => {
    await assert.rejects(client.run(ExecutorJob.RemoveVolumeDir, { name: 'missing' }, { timeoutMs: 5000 }), (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, ErrorCode.NotFound);
      assert.equal(err.message, 'get missing: no such volume');
      return true;
    });
  });

  it('rejects with INTERNAL and the failure message for any other error', async () => {
    await assert.rejects(client.run(ExecutorJob.RemoveVolumeDir, { name: 'busy' }, { timeoutMs: 5000 }), {
      code: ErrorCode.Internal,
      message: 'rm busy: EBUSY',
    });
  });

  it('times out when no executor serves the node, and removes the waiting job', async () => {
    const started = Date.now();
    await assert.rejects(idle.run(ExecutorJob.Ping, {}, { timeoutMs: 300 }), {
      code: ErrorCode.Timeout,
      message: 'executor nobody did not finish ping within 300 ms',
    });
    assert.ok(Date.now() - started < 1500);
    const redis = new Redis(ns.redisUrl);
    try {
      await waitFor(async () => (await redis.llen(`${ns.namespace}:${executorQueueName('nobody')}:wait`)) === 0, 2000);
    } finally {
      redis.disconnect();
    }
  });

  it('enqueue is fire-and-forget and idempotent by jobId', async () => {
    const first = await client.enqueue(ExecutorJob.CreateVolumeDir, { name: 'once' }, { jobId: 'create-once' });
    const second = await client.enqueue(ExecutorJob.CreateVolumeDir, { name: 'once' }, { jobId: 'create-once' });
    assert.equal(first, 'create-once');
    assert.equal(second, 'create-once');
    await waitFor(() => created.includes('once'), 5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(created.filter((n) => n === 'once').length, 1);
    // run() with the same id returns the kept result instead of running again
    const again = await client.run(ExecutorJob.CreateVolumeDir, { name: 'once' }, { jobId: 'create-once', timeoutMs: 2000 });
    assert.equal(again.mountpoint, '/data/volumes/once/_data');
    assert.equal(created.filter((n) => n === 'once').length, 1);
  });

  it('round-trips failure codes through the failure message', () => {
    const decoded = decodeJobFailure(encodeJobFailure(new DomainError(ErrorCode.Conflict, 'in use: a: b')));
    assert.equal(decoded.code, ErrorCode.Conflict);
    assert.equal(decoded.message, 'in use: a: b');
    assert.equal(decodeJobFailure('SOMETHING: else').code, ErrorCode.Internal);
    assert.equal(decodeJobFailure('SOMETHING: else').message, 'SOMETHING: else');
  });
});
