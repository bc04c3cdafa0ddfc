import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { EVENTS_STREAM, EventEnvelope, ExecutorObservation, OBSERVATIONS_STREAM, redisKey } from '@berth/contracts';
import { createTestNamespace, waitFor } from '@berth/testing';
import { StreamConsumer, StreamConsumerOptions, publishObservation } from './stream-consumer';

const envelope = (name: string, version = 1): EventEnvelope => ({
  eventId: randomUUID(),
  service: 'volumes',
  streamId: `volume:${name}`,
  version,
  position: String(version),
  type: 'VolumeCreated',
  data: { name },
  schemaVersion: 1,
  actor: null,
  occurredAt: new Date().toISOString(),
  occurredAtNano: `${BigInt(Date.now()) * 1_000_000n}`,
});

describe('StreamConsumer', () => {
  const ns = createTestNamespace();
  const key = redisKey(ns.namespace, EVENTS_STREAM);
  const running: StreamConsumer<unknown>[] = [];
  let redis: Redis;

  const consumer = <T = EventEnvelope>(options: Omit<StreamConsumerOptions<T>, 'redisUrl' | 'namespace'>) => {
    const c = new StreamConsumer<T>({ redisUrl: ns.redisUrl, namespace: ns.namespace, blockMs: 1000, ...options });
    running.push(c as StreamConsumer<unknown>);
    return c;
  };
  const publish = (...events: EventEnvelope[]) =>
    Promise.all(events.map((e) => redis.xadd(key, '*', 'e', JSON.stringify(e))));
  const pendingCount = async (group: string) => Number(((await redis.xpending(key, group)) as [number])[0]);

  before(() => {
    redis = new Redis(ns.redisUrl);
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    redis.disconnect();
    await ns.cleanup();
  });

  it('delivers history and new entries in order, and acks them', async () => {
    await publish(envelope('a'), envelope('b'));
    const seen: string[] = [];
    const c = consumer({ group: 'g1', consumer: 'c1', handler: (e) => void seen.push(e.streamId) });
    await c.start();
    await publish(envelope('c'));
    await waitFor(() => seen.length === 3, 5000);
    assert.deepEqual(seen, ['volume:a', 'volume:b', 'volume:c']);
    await waitFor(async () => (await pendingCount('g1')) === 0, 2000);
    await c.stop();
  });

  it("with startId '$', sees only entries added after the group was created", async () => {
    const seen: string[] = [];
    const c = consumer({ group: 'g-new', consumer: 'c1', startId: '$', handler: (e) => void seen.push(e.streamId) });
    await c.start();
    await publish(envelope('late'));
    await waitFor(() => seen.length === 1, 5000);
    assert.deepEqual(seen, ['volume:late']);
    await c.stop();
  });

  it('redelivers an entry left unacked by a crash, on restart', async () => {
    const group = 'g-crash';
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    const target = envelope('crash');
    let attempts = 0;
    let failed!: () => void;
    const failedOnce = new Promise<void>((r) => (failed = r));
    const first = consumer({
      group,
      consumer: 'c1',
      retryBaseMs: 60_000, // no retry in this life: stop() must cut the backoff short
      handler: (e) => {
        if (e.eventId !== target.eventId) return;
        attempts++;
        failed();
        throw new Error('process died mid-handler');
      },
    });
    await first.start();
    await publish(target);
    await failedOnce;
    await new Promise((r) => setTimeout(r, 100)); // now sleeping in its 60 s backoff
    const stopped = Date.now();
    await first.stop();
    assert.ok(Date.now() - stopped < 2000, 'stop() interrupts the backoff');
    assert.equal(await pendingCount(group), 1, 'the entry stays pending');

    const delivered: string[] = [];
    const second = consumer({ group, consumer: 'c1', handler: (e) => void delivered.push(e.eventId) });
    await second.start();
    await waitFor(() => delivered.length === 1, 5000);
    assert.deepEqual(delivered, [target.eventId]);
    assert.equal(attempts, 1);
    await waitFor(async () => (await pendingCount(group)) === 0, 2000);
    await second.stop();
  });

  it('retries a failing handler with backoff, keeping order', async () => {
    const group = 'g-retry';
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    const seen: string[] = [];
    let failuresLeft = 2;
    const c = consumer({
      group,
      consumer: 'c1',
      retryBaseMs: 50,
      handler: (e) => {
        if (e.streamId === 'volume:r1' && failuresLeft > 0) {
          failuresLeft--;
          throw new Error('transient');
        }
        seen.push(e.streamId);
      },
    });
    await c.start();
    await publish(envelope('r1'), envelope('r2'));
    await waitFor(() => seen.length === 2, 5000);
    assert.deepEqual(seen, ['volume:r1', 'volume:r2']);
    assert.equal(failuresLeft, 0);
    await waitFor(async () => (await pendingCount(group)) === 0, 2000);
    await c.stop();
  });

  it('a batch handler gets each read in order, acks it whole, and gets it all again after a failure', async () => {
    const group = 'g-batch';
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    await publish(envelope('b1'), envelope('b2'), envelope('b3'));
    const batches: string[][] = [];
    let fail = true;
    const c = consumer({
      group,
      consumer: 'c1',
      retryBaseMs: 50,
      batchHandler: (entries) => {
        batches.push(entries.map((x) => x.entry.streamId));
        if (fail) {
          fail = false;
          throw new Error('first write fails');
        }
      },
    });
    await c.start();
    await waitFor(() => batches.length >= 2, 5000);
    // the failed read was left pending whole and comes back whole, in order
    assert.deepEqual(batches[0], ['volume:b1', 'volume:b2', 'volume:b3']);
    assert.deepEqual(batches[1], ['volume:b1', 'volume:b2', 'volume:b3']);
    await waitFor(async () => (await pendingCount(group)) === 0, 2000);
    await c.stop();
    assert.throws(() => new StreamConsumer({ redisUrl: ns.redisUrl, namespace: ns.namespace, group, consumer: 'x' }), /exactly one/);
  });

  it('coalesceMs: entries that arrive within it after a read go in the same delivery', async () => {
    const group = 'g-coalesce';
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    const batches: string[][] = [];
    const c = consumer({ group, consumer: 'c1', coalesceMs: 300, batchHandler: (entries) => void batches.push(entries.map((x) => x.entry.streamId)) });
    await c.start();
    await new Promise((r) => setTimeout(r, 100)); // blocked in its read
    await publish(envelope('k1'));
    await new Promise((r) => setTimeout(r, 100));
    await publish(envelope('k2'), envelope('k3'));
    await waitFor(() => batches.length >= 1, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(batches, [['volume:k1', 'volume:k2', 'volume:k3']]);
    await waitFor(async () => (await pendingCount(group)) === 0, 2000);
    await c.stop();
  });

  it('skips and acks malformed entries', async () => {
    const group = 'g-bad';
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
    const seen: string[] = [];
    const c = consumer({ group, consumer: 'c1', handler: (e) => void seen.push(e.streamId) });
    await c.start();
    await redis.xadd(key, '*', 'e', '{not json');
    await redis.xadd(key, '*', 'other', 'x');
    await publish(envelope('fine'));
    await waitFor(() => seen.length === 1, 5000);
    assert.deepEqual(seen, ['volume:fine']);
    await waitFor(async () => (await pendingCount(group)) === 0, 2000);
    await c.stop();
  });

  it('publishObservation feeds a consumer of the observations stream', async () => {
    const seen: ExecutorObservation[] = [];
    const c = consumer<ExecutorObservation>({
      stream: OBSERVATIONS_STREAM,
      group: 'containers',
      consumer: 'c1',
      handler: (o) => void seen.push(o),
    });
    await c.start();
    const observation: ExecutorObservation = {
      observationId: randomUUID(),
      nodeId: 'n1',
      kind: 'ProcessExited',
      subject: 'container:abc',
      data: { exitCode: 137 },
      observedAt: new Date().toISOString(),
    };
    const id = await publishObservation(redis, ns.namespace, observation);
    assert.match(id, /^\d+-\d+$/);
    await waitFor(() => seen.length === 1, 5000);
    assert.deepEqual(seen[0], observation);
    await c.stop();
  });
});
