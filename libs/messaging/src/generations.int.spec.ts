import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type MicroserviceOptions } from '@nestjs/microservices';
import Redis from 'ioredis';
import { createTestNamespace, waitFor } from '@berth/testing';
import { GenerationFeed, GenerationWatch } from './generations';
import { RedisRpcClient } from './rpc-client';
import { DomainErrorRpcFilter, RedisRpcServer } from './rpc-server';

@Controller()
class ChangeController {
  constructor(private readonly feed: GenerationFeed) {}

  /** A change, then its reply: the watch must have seen the change when the reply arrives. */
  @MessagePattern('demo.change')
  async change(): Promise<{ token: string }> {
    await new Promise((r) => setImmediate(r));
    this.feed.bump();
    return { token: this.feed.token };
  }
}

describe('generation push (Redis)', () => {
  const ns = createTestNamespace();
  const base = { redisUrl: ns.redisUrl, namespace: ns.namespace };
  let app: INestMicroservice;
  let feed: GenerationFeed;
  let client: RedisRpcClient;
  let watch: GenerationWatch;
  let redis: Redis;

  before(async () => {
    const server = new RedisRpcServer({ ...base, service: 'demo' });
    feed = new GenerationFeed({ namespace: ns.namespace, service: 'demo', publisher: server, heartbeatMs: 100 });
    @Module({ controllers: [ChangeController], providers: [{ provide: GenerationFeed, useValue: feed }] })
    class DemoModule {}
    app = await NestFactory.createMicroservice<MicroserviceOptions>(DemoModule, { strategy: server, logger: false });
    app.useGlobalFilters(new DomainErrorRpcFilter());
    await app.listen();
    feed.bump();
    feed.start();
    client = new RedisRpcClient({ ...base, defaultTimeoutMs: 3000 });
    watch = new GenerationWatch({ namespace: ns.namespace, services: ['demo'], subscriber: client, staleAfterMs: 500 });
    watch.start();
    redis = new Redis(ns.redisUrl);
    await waitFor(() => watch.current('demo') !== undefined, 5000);
  });

  after(async () => {
    feed.stop();
    await client.close();
    await app.close();
    redis.disconnect();
    await ns.cleanup();
  });

  it('delivers the change before the reply that follows it, every time', async () => {
    for (let i = 0; i < 300; i++) {
      const before = watch.current('demo');
      assert.ok(before);
      const check = (): string | undefined => watch.current('demo');
      // Checked synchronously as the reply settles, before anything else could deliver the notice.
      const seen = await client.request<{ token: string }>('demo.change').then(check);
      assert.ok(seen, `round ${i}: untrusted`);
      assert.notEqual(seen, before, `round ${i}: the reply arrived before the change's notice`);
    }
  });

  it('concurrent changes: each reply comes after its notice', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => {
        const before = watch.current('demo');
        return client.request('demo.change').then(() => ({ before, after: watch.current('demo') }));
      }),
    );
    for (const r of results) assert.notEqual(r.after, r.before);
  });

  it('is untrusted from the moment the reply connection drops until a notice arrives on the new one', async () => {
    const before = watch.current('demo');
    assert.ok(before);
    const list = String(await redis.client('LIST'));
    const line = list.split('\n').find((l) => l.includes(`name=berth-rpc-replies-${client.clientId} `));
    assert.ok(line, 'the client reply connection is listed');
    const id = /(?:^|\s)id=(\d+)/.exec(line)![1]!;
    const untrusted = waitFor(() => watch.current('demo') === undefined, 5000, 1);
    await redis.client('KILL', 'ID', id);
    await untrusted;
    // A change made while nobody listened is lost as a message, but the next heartbeat carries it.
    feed.bump();
    const after = await waitFor(() => watch.current('demo'), 5000);
    assert.notEqual(after, before);
    // And the pushes work again: a change before a reply is seen before it.
    const seen = await client.request('demo.change').then(() => watch.current('demo'));
    assert.notEqual(seen, after);
  });

  it('stops trusting a service that went silent', async () => {
    assert.ok(watch.current('demo'));
    feed.stop();
    await waitFor(() => watch.current('demo') === undefined, 3000);
    feed.start();
    await waitFor(() => watch.current('demo') !== undefined, 3000);
  });
});
