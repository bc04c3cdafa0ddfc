import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { DomainError, ErrorCode, notFound } from '@berth/contracts';
import { createTestNamespace, waitFor } from '@berth/testing';
import { RedisRpcClient } from './rpc-client';
import { RedisRpcContext, createRpcMicroservice } from './rpc-server';
import { rpcRequestKey } from './rpc-protocol';

const seen = { counted: 0, events: [] as unknown[], handledBy: new Map<string, string>() };
let nextInstance = 0;

@Controller()
class DemoController {
  private readonly instance = `instance-${nextInstance++}`;

  @MessagePattern('demo.echo')
  echo(@Payload() data: unknown, @Ctx() ctx: RedisRpcContext) {
    return { data, pattern: ctx.getPattern(), service: ctx.getService() };
  }

  @MessagePattern('demo.missing')
  missing(): never {
    throw notFound('no such thing: x');
  }

  @MessagePattern('demo.crash')
  crash(): never {
    throw new TypeError('boom');
  }

  @MessagePattern('demo.sleep')
  async sleep(@Payload() data: { ms: number; tag?: string }) {
    await new Promise((r) => setTimeout(r, data.ms));
    if (data.tag) {
      assert.equal(seen.handledBy.has(data.tag), false, `${data.tag} handled twice`);
      seen.handledBy.set(data.tag, this.instance);
    }
    return { slept: data.ms, by: this.instance };
  }

  @MessagePattern('demo.count')
  count() {
    return ++seen.counted;
  }

  @MessagePattern('demo.counted')
  counted() {
    return seen.counted;
  }

  @MessagePattern('demo.nothing')
  nothing() {
    return undefined;
  }

  @EventPattern('demo.happened')
  happened(@Payload() data: unknown) {
    seen.events.push(data);
  }
}

@Module({ controllers: [DemoController] })
class DemoModule {}

describe('Redis request/reply transport', () => {
  const ns = createTestNamespace();
  const base = { redisUrl: ns.redisUrl, namespace: ns.namespace };
  const apps: INestMicroservice[] = [];
  let client: RedisRpcClient;
  let redis: Redis;

  const startService = async (maxInFlight?: number) => {
    const app = await createRpcMicroservice(DemoModule, { ...base, service: 'demo', maxInFlight }, { logger: false });
    await app.listen();
    apps.push(app);
    return app;
  };

  before(async () => {
    await startService();
    client = new RedisRpcClient({ ...base, defaultTimeoutMs: 3000 });
    await client.connect();
    redis = new Redis(ns.redisUrl);
  });

  after(async () => {
    await client.close();
    await Promise.all(apps.map((a) => a.close()));
    redis.disconnect();
    await ns.cleanup();
  });

  it('answers a request from a @MessagePattern handler', async () => {
    const reply = await client.request('demo.echo', { hello: 'world' });
    assert.deepEqual(reply, { data: { hello: 'world' }, pattern: 'demo.echo', service: 'demo' });
  });

  it('resolves undefined when the handler returns nothing', async () => {
    assert.equal(await client.request('demo.nothing', {}), undefined);
  });

  it('also works as a Nest ClientProxy (send)', async () => {
    const reply = await lastValueFrom(client.send('demo.echo', [1, 2]));
    assert.deepEqual(reply.data, [1, 2]);
    await assert.rejects(lastValueFrom(client.send('demo.missing', {})), { code: ErrorCode.NotFound });
  });

  it('keeps the code of a remote DomainError', async () => {
    await assert.rejects(client.request('demo.missing', {}), (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, ErrorCode.NotFound);
      assert.equal(err.message, 'no such thing: x');
      return true;
    });
  });

  it('turns any other error into INTERNAL with its message', async () => {
    await assert.rejects(client.request('demo.crash', {}), { code: ErrorCode.Internal, message: 'boom' });
  });

  it('answers an unknown pattern with NOT_IMPLEMENTED', async () => {
    await assert.rejects(client.request('demo.nope', {}), {
      code: ErrorCode.NotImplemented,
      message: 'demo has no handler for demo.nope',
    });
  });

  it('times out with a clear error when the service is not running', async () => {
    const started = Date.now();
    await assert.rejects(client.request('ghost.ping', {}, { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, ErrorCode.Timeout);
      assert.equal(err.message, 'ghost did not answer ghost.ping within 300 ms');
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 1000, `took ${elapsed} ms`);
    // the unconsumed request list does not live forever
    assert.ok((await redis.pttl(rpcRequestKey(ns.namespace, 'ghost'))) > 0);
  });

  it('handles concurrent requests concurrently', async () => {
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 20 }, () => client.request('demo.sleep', { ms: 200 })));
    assert.equal(replies.length, 20);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1500, `20 x 200 ms took ${elapsed} ms: requests were serialized`);
  });

  it('long polls do not take the slots of other requests (a detached docker run leaves its wait behind)', async () => {
    const ns2 = createTestNamespace();
    const opts = { redisUrl: ns2.redisUrl, namespace: ns2.namespace };
    const app = await createRpcMicroservice(DemoModule, { ...opts, service: 'demo', maxInFlight: 2, longPolls: ['demo.sleep'] }, { logger: false });
    await app.listen();
    const c2 = new RedisRpcClient({ ...opts, defaultTimeoutMs: 5000 });
    await c2.connect();
    try {
      const polls = Array.from({ length: 5 }, () => c2.request<{ slept: number }>('demo.sleep', { ms: 1500 }));
      await new Promise((r) => setTimeout(r, 300));
      const asked = Date.now();
      assert.equal(await c2.request('demo.counted'), seen.counted);
      assert.ok(Date.now() - asked < 1000, `answered after ${Date.now() - asked} ms: it waited for the long polls`);
      assert.deepEqual((await Promise.all(polls)).map((p) => p.slept), [1500, 1500, 1500, 1500, 1500]);
    } finally {
      await c2.close();
      await app.close();
      await ns2.cleanup();
    }
  });

  it('survives malformed messages and drops requests whose caller stopped waiting', async () => {
    const key = rpcRequestKey(ns.namespace, 'demo');
    const before = await client.request<number>('demo.counted', {});
    await redis.lpush(key, 'not json', '{"pattern": 42}', 'null', '{"id":"x","pattern":"demo.count"}');
    const expired = { id: 'late', pattern: 'demo.count', data: {}, replyTo: client.replyChannel, deadline: Date.now() - 1 };
    await redis.lpush(key, JSON.stringify(expired));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await client.request<number>('demo.counted', {}), before);
    assert.deepEqual((await client.request<{ data: unknown }>('demo.echo', 'still alive')).data, 'still alive');
  });

  it('delivers events (emit) without a reply', async () => {
    await lastValueFrom(client.emit('demo.happened', { n: 1 }), { defaultValue: undefined });
    await waitFor(() => seen.events.length === 1, 3000);
    assert.deepEqual(seen.events, [{ n: 1 }]);
  });

  it('with two instances, answers each request exactly once', async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps.length = 0;
    await startService(3);
    await startService(3);
    seen.handledBy.clear();
    const tags = Array.from({ length: 40 }, (_, i) => `req-${i}`);
    const replies = await Promise.all(
      tags.map((tag) => client.request<{ by: string }>('demo.sleep', { ms: 30, tag }, { timeoutMs: 5000 })),
    );
    assert.equal(seen.handledBy.size, 40);
    for (const [i, tag] of tags.entries()) assert.equal(replies[i].by, seen.handledBy.get(tag));
    const byInstance = new Set(seen.handledBy.values());
    assert.equal(byInstance.size, 2, 'both instances took work');
  });

  it('rejects pending requests when the client closes, and a closed server stops answering', async () => {
    const other = new RedisRpcClient({ ...base });
    const pending = assert.rejects(other.request('demo.sleep', { ms: 300 }), { code: ErrorCode.Unavailable });
    await new Promise((r) => setTimeout(r, 50));
    await other.close();
    await pending;

    await Promise.all(apps.map((a) => a.close()));
    apps.length = 0;
    await assert.rejects(client.request('demo.echo', {}, { timeoutMs: 200 }), { code: ErrorCode.Timeout });
  });
});
