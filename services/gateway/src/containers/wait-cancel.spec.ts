import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { ContainerPatterns, type WaitContainerReply } from '@berth/contracts';
import type { BerthConfig } from '@berth/config';
import type { GenerationWatch, RpcClient } from '@berth/messaging';
import type { ImageResolveCache } from '../images/image-resolve.cache';
import { ContainersService, type WaitClient } from './containers.service';

/** A fake RPC client (a pure unit test): wait requests stay open until the test answers them. */
function fakeRpc() {
  const waits: { data: { waitId: string }; answer: (r: WaitContainerReply) => void }[] = [];
  const cancels: string[][] = [];
  const rpc = {
    request(pattern: string, data: { waitId: string; waitIds: string[] }) {
      if (pattern === ContainerPatterns.waitCancel) {
        cancels.push([...data.waitIds]);
        return Promise.resolve(undefined);
      }
      assert.equal(pattern, ContainerPatterns.wait);
      return new Promise((answer) => waits.push({ data, answer }));
    },
  };
  return { rpc: rpc as unknown as RpcClient, waits, cancels };
}

function client(): WaitClient & { close(): void } {
  let closed = false;
  const listeners: (() => void)[] = [];
  return {
    get closed() {
      return closed;
    },
    onClose: (l) => listeners.push(l),
    close() {
      closed = true;
      for (const l of listeners) l();
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('ContainersService.wait: waits whose clients left are cancelled at the service', () => {
  it('gathers the waits of clients that left into one waitCancel a second later; a finished wait is not cancelled', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { rpc, waits, cancels } = fakeRpc();
      const service = new ContainersService(rpc, {} as GenerationWatch, {} as ImageResolveCache, {} as BerthConfig);
      const [a, b, c] = [client(), client(), client()];
      const ra = service.wait({ id: 'x', exitCount: 0 }, 'next-exit', a);
      const rb = service.wait({ id: 'y', exitCount: 0 }, 'next-exit', b);
      const rc = service.wait({ id: 'z', exitCount: 0 }, 'not-running', c);
      await flush();
      assert.equal(waits.length, 3);
      const ids = waits.map((w) => w.data.waitId);
      assert.equal(new Set(ids).size, 3, 'each wait has its own id');

      // c's condition holds: its reply goes out, then its client closes, which cancels nothing.
      waits[2]!.answer({ statusCode: 0, error: null });
      assert.deepEqual(await rc, { statusCode: 0, error: null });
      c.close();

      a.close();
      b.close();
      mock.timers.tick(999);
      assert.deepEqual(cancels, [], 'gathered for a second');
      mock.timers.tick(1);
      assert.deepEqual(cancels, [[ids[0], ids[1]]], 'one request for both');

      // The service answers the cancelled polls `pending`: the gateway asks no more.
      waits[0]!.answer({ statusCode: -1, error: null, pending: true });
      waits[1]!.answer({ statusCode: -1, error: null, pending: true });
      assert.equal((await ra).pending, true);
      assert.equal((await rb).pending, true);
      await flush();
      assert.equal(waits.length, 3, 'no new long poll');
    } finally {
      mock.timers.reset();
    }
  });

  it('a client still there is asked again after a pending answer, with the same id', async () => {
    const { rpc, waits } = fakeRpc();
    const service = new ContainersService(rpc, {} as GenerationWatch, {} as ImageResolveCache, {} as BerthConfig);
    const r = service.wait({ id: 'x', exitCount: 2 }, 'next-exit', client());
    await flush();
    waits[0]!.answer({ statusCode: -1, error: null, pending: true });
    await flush();
    assert.equal(waits.length, 2);
    assert.equal(waits[1]!.data.waitId, waits[0]!.data.waitId);
    waits[1]!.answer({ statusCode: 3, error: null });
    assert.deepEqual(await r, { statusCode: 3, error: null });
  });
});
