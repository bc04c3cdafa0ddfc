import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, ErrorCode, ExecutorJob, conflict } from '@berth/contracts';
import { InProcessExecutor, InProcessRpc } from './in-process';

describe('InProcessRpc', () => {
  const rpc = new InProcessRpc()
    .register('volumes.inspect', (data: { name: string }) => ({ name: data.name, createdAt: new Date(0) }))
    .register('volumes.remove', () => {
      throw conflict('volume is in use');
    })
    .register('volumes.crash', () => {
      throw new RangeError('bad');
    })
    .register('volumes.slow', () => new Promise((r) => setTimeout(r, 1000)));

  it('answers with what the wire would carry, and records calls', async () => {
    assert.deepEqual(await rpc.request('volumes.inspect', { name: 'a' }), { name: 'a', createdAt: '1970-01-01T00:00:00.000Z' });
    assert.deepEqual(rpc.calls.at(-1), { pattern: 'volumes.inspect', data: { name: 'a' } });
  });

  it('keeps DomainError codes and turns other errors into INTERNAL', async () => {
    await assert.rejects(rpc.request('volumes.remove', {}), { code: ErrorCode.Conflict, message: 'volume is in use' });
    await assert.rejects(rpc.request('volumes.crash', {}), { code: ErrorCode.Internal, message: 'bad' });
  });

  it('answers unknown patterns with NOT_IMPLEMENTED and enforces the timeout', async () => {
    await assert.rejects(rpc.request('images.list', {}), { code: ErrorCode.NotImplemented });
    await assert.rejects(rpc.request('volumes.slow', {}, { timeoutMs: 20 }), {
      code: ErrorCode.Timeout,
      message: 'volumes did not answer volumes.slow within 20 ms',
    });
  });
});

describe('InProcessExecutor', () => {
  it('runs typed handlers and maps failures to DomainError', async () => {
    const executor = new InProcessExecutor({
      [ExecutorJob.CreateVolumeDir]: async ({ name }) => ({ mountpoint: `/v/${name}` }),
      [ExecutorJob.RemoveVolumeDir]: async () => {
        throw new Error('EBUSY');
      },
    });
    assert.deepEqual(await executor.run(ExecutorJob.CreateVolumeDir, { name: 'x' }), { mountpoint: '/v/x' });
    await assert.rejects(executor.run(ExecutorJob.RemoveVolumeDir, { name: 'x' }), (e: unknown) => {
      assert.ok(e instanceof DomainError);
      return e.code === ErrorCode.Internal && e.message === 'EBUSY';
    });
    await assert.rejects(executor.run(ExecutorJob.Ping, {}), { code: ErrorCode.NotImplemented });
    assert.equal(await executor.enqueue(ExecutorJob.CreateVolumeDir, { name: 'y' }, { jobId: 'j1' }), 'j1');
    assert.equal(executor.jobs.length, 4);
  });
});
