import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { EventEnvelope } from '@berth/contracts';
import { createTestNamespace, type TestNamespace, waitFor } from '@berth/testing';
import Redis from 'ioredis';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { markProcessed } from './processed-events';
import { OutboxRelay, type OutboxRelayOptions } from './relay';
import { allVisible, created, labelled, openTestStore, type TestStore } from './test-fixtures';

/** What a downstream consumer's effect looks like: one row per applied event. */
class AppliedMigration1700000000002 implements MigrationInterface {
  readonly name = 'AppliedMigration1700000000002';
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE volumes.applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL)');
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE volumes.applied');
  }
}

const quietLogger = { error: () => undefined };

describe('OutboxRelay (Postgres + Redis)', () => {
  let t: TestStore;
  let ns: TestNamespace;
  let redis: Redis;

  before(async () => {
    t = await openTestStore({ extraMigrations: [AppliedMigration1700000000002] });
    ns = createTestNamespace();
    redis = new Redis(ns.redisUrl);
  });
  after(async () => {
    await ns?.cleanup();
    redis?.disconnect();
    await t?.close();
  });

  // Each test starts from an empty stream with the relay's checkpoint at the end of the log.
  beforeEach(async () => {
    await redis.del(streamKey());
    await t.dataSource.query('TRUNCATE volumes.checkpoints, volumes.processed_events, volumes.applied');
    const { checkpoint } = await allVisible(t.store);
    await t.store.saveCheckpoint('relay', checkpoint);
  });

  const streamKey = () => `${ns.namespace}:events`;
  const relayOptions = (extra: Partial<OutboxRelayOptions> = {}): OutboxRelayOptions => ({
    store: t.store,
    redis,
    namespace: ns.namespace,
    logger: quietLogger,
    ...extra,
  });

  async function published(): Promise<EventEnvelope[]> {
    const entries = await redis.xrange(streamKey(), '-', '+');
    return entries.map(([, fields]) => {
      assert.equal(fields[0], 'e');
      return JSON.parse(fields[1]) as EventEnvelope;
    });
  }

  /** An idempotent consumer: applies each stream entry in its own transaction, deduped by eventId. */
  async function consumeAll(): Promise<void> {
    for (const envelope of await published()) {
      await t.store.transaction(async (m) => {
        if (await markProcessed(m, 'test-consumer', envelope.eventId)) {
          await m.query('INSERT INTO volumes.applied (event_id) VALUES ($1)', [envelope.eventId]);
        }
      });
    }
  }

  async function applied(): Promise<string[]> {
    const rows: { event_id: string }[] = await t.dataSource.query('SELECT event_id FROM volumes.applied ORDER BY seq');
    return rows.map((r) => r.event_id);
  }

  /** Appends `count` events and waits until readAll can see them, so a relay pass will find them. */
  async function appendVisible(stream: string, count: number): Promise<EventEnvelope[]> {
    const { envelopes } = await t.store.append(
      stream,
      0,
      Array.from({ length: count }, (_, i) => (i === 0 ? created(stream) : labelled(stream, { i: String(i) }))),
    );
    await allVisible(t.store);
    return envelopes;
  }

  it('publishes envelopes as JSON in field e, checkpoints, and then has nothing to do', async () => {
    const events = await appendVisible('volume:pub', 3);
    const relay = new OutboxRelay(relayOptions());
    assert.equal(await relay.runOnce(), 3);
    assert.deepEqual(await published(), events);
    assert.equal(await relay.runOnce(), 0);
    const cp = await t.store.loadCheckpoint('relay');
    assert.equal(cp.position, events[2].position);
  });

  it('loses nothing when it crashes between commit and publish', async () => {
    const events = await appendVisible('volume:unpublished', 2);
    // Redis is unreachable: the batch is read but cannot be published, so nothing is checkpointed.
    const deadRedis = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    deadRedis.on('error', () => undefined);
    try {
      const broken = new OutboxRelay(relayOptions({ redis: deadRedis }));
      await assert.rejects(broken.runOnce());
    } finally {
      deadRedis.disconnect();
    }
    assert.deepEqual(await published(), []);

    const restarted = new OutboxRelay(relayOptions());
    assert.equal(await restarted.runOnce(), 2);
    assert.deepEqual(await published(), events);
    await consumeAll();
    assert.deepEqual(
      await applied(),
      events.map((e) => e.eventId),
    );
  });

  it('publishes again after a crash between publish and checkpoint, and the consumer applies each event once', async () => {
    const first = await appendVisible('volume:crash-a', 2);
    const crashing = new OutboxRelay(
      relayOptions({
        afterPublish: () => {
          throw new Error('killed before saving the checkpoint');
        },
      }),
    );
    await assert.rejects(crashing.runOnce(), /killed before saving the checkpoint/);
    assert.deepEqual(await published(), first);
    await consumeAll();

    const second = await appendVisible('volume:crash-b', 1);
    const restarted = new OutboxRelay(relayOptions());
    assert.equal(await restarted.runOnce(), 3);
    assert.equal(await restarted.runOnce(), 0);

    const all = [...first, ...second];
    const stream = await published();
    assert.deepEqual(stream, [...first, ...all], 'the crashed batch is on the stream twice');
    await consumeAll();
    await consumeAll(); // a consumer restart re-reading everything is harmless too
    assert.deepEqual(
      await applied(),
      all.map((e) => e.eventId),
    );
  });

  it('lets only one of two relays publish a batch', async () => {
    const events = await appendVisible('volume:two-relays', 4);
    const a = new OutboxRelay(relayOptions());
    const b = new OutboxRelay(relayOptions());
    const counts = await Promise.all([a.runOnce(), b.runOnce()]);
    assert.deepEqual(
      [...counts].sort(),
      [0, 4],
    );
    assert.deepEqual(await published(), events);
  });

  it('when started, wakes on NOTIFY without waiting for the poll', async () => {
    const relay = new OutboxRelay(relayOptions({ pollIntervalMs: 60_000 }));
    await relay.start();
    try {
      // The first pass runs at start; give it a moment to settle into its (long) sleep.
      await new Promise((r) => setTimeout(r, 100));
      const events = await appendVisible('volume:notified', 2);
      const seen = await waitFor(async () => ((await published()).length >= 2 ? published() : null), 5_000);
      assert.deepEqual(seen, events);
    } finally {
      await relay.stop();
    }
  });

  it('when started, also catches up by polling', async () => {
    const relay = new OutboxRelay(relayOptions({ pollIntervalMs: 50, batchSize: 2 }));
    // Appended before start: no notification will come for these, and they need several batches.
    const events = await appendVisible('volume:polled', 5);
    await relay.start();
    try {
      await waitFor(async () => (await published()).length >= 5, 5_000);
      assert.deepEqual(await published(), events);
    } finally {
      await relay.stop();
    }
    // Stopped means stopped: later events stay in the table.
    await appendVisible('volume:after-stop', 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await published()).length, 5);
    const rest = await t.store.readAll(await t.store.loadCheckpoint('relay'));
    assert.equal(rest.events.length, 1);
  });

  it('started relays: one leads and checkpoints lazily; the other takes over from the saved checkpoint, nothing lost', async () => {
    const a = new OutboxRelay(relayOptions({ pollIntervalMs: 50 }));
    const b = new OutboxRelay(relayOptions({ pollIntervalMs: 50 }));
    await a.start();
    await new Promise((r) => setTimeout(r, 100)); // a leads before b starts
    await b.start();
    try {
      const first = await appendVisible('volume:lead-1', 3);
      await waitFor(async () => (await published()).length >= 3, 5_000);
      // the checkpoint is saved within a second of the batch, not with it
      await waitFor(async () => ((await t.store.loadCheckpoint('relay')).position === first[2].position ? true : null), 5_000);
      await a.stop();
      const second = await appendVisible('volume:lead-2', 2);
      await waitFor(async () => (await published()).length >= 5, 5_000);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await published(), [...first, ...second], 'b took over where a stopped: no event twice, none missing');
    } finally {
      await a.stop();
      await b.stop();
    }
    assert.equal((await t.store.loadCheckpoint('relay')).position, (await published()).at(-1)!.position, 'saved when it stops');
  });

  it('starts from the beginning of the log when it has no checkpoint', async () => {
    await t.dataSource.query('TRUNCATE volumes.checkpoints');
    const { events } = await allVisible(t.store);
    assert.ok(events.length > 0);
    const relay = new OutboxRelay(relayOptions({ batchSize: 10_000 }));
    assert.equal(await relay.runOnce(), events.length);
    assert.deepEqual(await published(), events);
  });
});
