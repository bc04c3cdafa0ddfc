import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DomainError, ErrorCode, type EventEnvelope } from '@berth/contracts';
import { waitFor } from '@berth/testing';
import { type Projection, START } from './api';
import { ConcurrencyError } from './event-store';
import { createDataSource, runMigrations } from './migrations';
import { markProcessed } from './processed-events';
import { rebuildProjections } from './projections';
import {
  allVisible,
  created,
  labelled,
  openTestStore,
  removed,
  type TestStore,
  VolumeViewMigration1700000000001,
  volumeView,
} from './test-fixtures';

describe('EventStore (Postgres)', () => {
  let t: TestStore;
  before(async () => {
    t = await openTestStore({ extraMigrations: [VolumeViewMigration1700000000001], projections: [volumeView] });
  });
  after(async () => {
    await t?.close();
  });

  const viewRows = () =>
    t.dataSource.query(
      `SELECT name, driver, labels, removed, touched, last_position::text AS last_position
       FROM volumes.volume_view ORDER BY name`,
    );

  describe('migrations', () => {
    it('creates the tables and its own migrations table inside the schema, once', async () => {
      const tables: { table_name: string }[] = await t.dataSource.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'volumes' ORDER BY table_name`,
      );
      assert.deepEqual(
        tables.map((r) => r.table_name),
        ['checkpoints', 'events', 'migrations', 'processed_events', 'snapshots', 'volume_view'],
      );
      const ran: { name: string }[] = await t.dataSource.query('SELECT name FROM volumes.migrations ORDER BY id');
      assert.deepEqual(
        ran.map((r) => r.name),
        ['EventStoreSchema1000000000000', 'VolumeViewMigration1700000000001'],
      );
      assert.deepEqual(await runMigrations(t.dataSource), []);
    });

    it('keeps a second service schema in the same database separate', async () => {
      const images = createDataSource({ url: t.db.url, schema: 'images' });
      try {
        assert.deepEqual(await runMigrations(images), ['EventStoreSchema1000000000000']);
        const [row]: { n: string }[] = await images.query('SELECT count(*)::text AS n FROM images.migrations');
        assert.equal(row.n, '1');
      } finally {
        await images.destroy();
      }
    });

    it('rejects a schema name that would need quoting', () => {
      assert.throws(() => createDataSource({ url: t.db.url, schema: 'Volumes; drop' }), (e: unknown) => {
        return e instanceof DomainError && e.code === ErrorCode.InvalidArgument;
      });
    });
  });

  describe('append and readStream', () => {
    it('stores envelopes with service, position, actor and nanosecond time', async () => {
      const res = await t.store.append('volume:rt', 0, [created('rt'), labelled('rt', { a: '1' })], {
        actor: { kind: 'user', id: 'alice' },
      });
      assert.equal(res.nextExpectedVersion, 2);
      const read = await t.store.readStream('volume:rt');
      assert.deepEqual(read, res.envelopes);
      const [first, second] = read;
      assert.equal(first.service, 'volumes');
      assert.equal(first.version, 1);
      assert.equal(second.version, 2);
      assert.ok(BigInt(second.position) > BigInt(first.position));
      assert.deepEqual(first.actor, { kind: 'user', id: 'alice' });
      assert.deepEqual(first.data, { name: 'rt', driver: 'local' });
      assert.match(first.occurredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const micros = BigInt(Date.parse(first.occurredAt)) * 1000n + BigInt(first.occurredAt.slice(23, 26));
      assert.equal(first.occurredAtNano, (micros * 1000n).toString());
      assert.deepEqual(await t.store.readStream('volume:rt', { fromVersion: 2 }), [second]);
    });

    it('keeps JSON arrays and scalars as data', async () => {
      const { envelopes } = await t.store.append('misc:data', 'any', [
        { type: 'ThingsListed', data: [1, 'two'], schemaVersion: 1 },
        { type: 'ThingNamed', data: 'plain', schemaVersion: 2 },
      ]);
      assert.deepEqual(
        envelopes.map((e) => [e.data, e.schemaVersion]),
        [
          [[1, 'two'], 1],
          ['plain', 2],
        ],
      );
    });

    it('refuses to rewrite history', async () => {
      await assert.rejects(t.dataSource.query(`UPDATE volumes.events SET type = 'Forged'`), /append-only/);
      await assert.rejects(t.dataSource.query(`DELETE FROM volumes.events`), /append-only/);
    });

    it('rejects events without a type or schemaVersion', async () => {
      await assert.rejects(
        t.store.append('volume:bad', 0, [{ type: 'VolumeCreated', data: {}, schemaVersion: 0 }]),
        (e: unknown) => e instanceof DomainError && e.code === ErrorCode.InvalidArgument,
      );
    });
  });

  describe('optimistic concurrency', () => {
    const isConflict = (stream: string, expected: number, actual: number) => (e: unknown) => {
      assert.ok(e instanceof ConcurrencyError, `expected ConcurrencyError, got ${String(e)}`);
      assert.ok(e instanceof DomainError);
      assert.equal(e.code, ErrorCode.Conflict);
      assert.equal(
        e.message,
        `concurrent modification of ${stream}: expected version ${expected}, but it is at version ${actual}`,
      );
      return true;
    };

    it('lets one of two appends at the same expected version win', async () => {
      await t.store.append('volume:seq', 0, [created('seq')]);
      await assert.rejects(t.store.append('volume:seq', 0, [created('seq')]), isConflict('volume:seq', 0, 1));
      await t.store.append('volume:seq', 1, [labelled('seq', { x: 'y' })]);
      await assert.rejects(t.store.append('volume:seq', 1, [removed('seq')]), isConflict('volume:seq', 1, 2));
      assert.equal((await t.store.readStream('volume:seq')).length, 2);
    });

    it('lets exactly one of many truly concurrent appends win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => t.store.append('volume:race', 0, [labelled('race', { i: String(i) })])),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 7);
      for (const l of lost) isConflict('volume:race', 0, 1)(l.reason);
      assert.equal((await t.store.readStream('volume:race')).length, 1);
    });

    it('reports the winning version when the race is lost at insert time, leaving the caller transaction usable', async () => {
      const runner = t.dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        // The first writer has checked version 0 and inserted, but not committed.
        await t.store.append('volume:held', 0, [created('held')], { manager: runner.manager });
        const loser = t.dataSource.transaction(async (manager) => {
          const err = await t.store.append('volume:held', 0, [created('held')], { manager }).catch((e: unknown) => e);
          // Still usable after the conflict: the savepoint was rolled back, not the transaction.
          const [row]: { ok: number }[] = await manager.query('SELECT 1 AS ok');
          return { err, ok: row.ok };
        });
        // The loser's insert blocks on the unique index until the winner commits.
        await waitFor(async () => {
          const rows: unknown[] = await t.dataSource.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return rows.length > 0;
        });
        await runner.commitTransaction();
        const { err, ok } = await loser;
        assert.equal(ok, 1);
        isConflict('volume:held', 0, 1)(err);
      } finally {
        if (runner.isTransactionActive) await runner.rollbackTransaction();
        await runner.release();
      }
    });

    it("serializes concurrent 'any' appends instead of failing them", async () => {
      await Promise.all(
        Array.from({ length: 4 }, (_, i) => t.store.append('volume:any', 'any', [labelled('any', { i: String(i) })])),
      );
      const versions = (await t.store.readStream('volume:any')).map((e) => e.version);
      assert.deepEqual(versions, [1, 2, 3, 4]);
    });
  });

  describe('readAll', () => {
    it('does not skip an event whose transaction commits after a later one', async () => {
      const { checkpoint: base } = await allVisible(t.store);

      const early = t.dataSource.createQueryRunner();
      await early.connect();
      await early.startTransaction();
      try {
        // Takes its transaction id first...
        await t.store.append('volume:late', 0, [created('late')], { manager: early.manager });
        // ...while this one takes a later id and commits first.
        await t.store.append('volume:early-bird', 0, [created('early-bird')]);

        const meanwhile = await t.store.readAll(base);
        assert.deepEqual(meanwhile.events, [], 'nothing is visible while an older transaction is open');
        assert.deepEqual(meanwhile.checkpoint, base);

        await early.commitTransaction();
      } finally {
        if (early.isTransactionActive) await early.rollbackTransaction();
        await early.release();
      }

      await allVisible(t.store);
      const { events: seen } = await t.store.readAll(base);
      assert.deepEqual(
        seen.map((e) => e.streamId),
        ['volume:late', 'volume:early-bird'],
      );
    });

    it('pages with a limit and resumes from the checkpoint', async () => {
      const paged: EventEnvelope[] = [];
      let cp = START;
      for (;;) {
        const page = await t.store.readAll(cp, 3);
        assert.ok(page.events.length <= 3);
        if (page.events.length === 0) break;
        paged.push(...page.events);
        cp = page.checkpoint;
      }
      assert.ok(paged.length > 3);
      // Read later, so it may have more (visibility only grows), but never in a different order.
      const { events: all } = await allVisible(t.store);
      assert.deepEqual(
        all.slice(0, paged.length).map((e) => e.eventId),
        paged.map((e) => e.eventId),
      );
    });
  });

  describe('inline projections and rebuild', () => {
    it('applies projections in the appending transaction, and rolls back with it', async () => {
      await t.store.transaction(async (manager) => {
        await t.store.append('volume:p1', 0, [created('p1', 'nfs')], { manager });
        const rows: unknown[] = await manager.query(`SELECT 1 FROM volumes.volume_view WHERE name = 'p1'`);
        assert.equal(rows.length, 1, 'visible inside the transaction');
      });
      await assert.rejects(
        t.store.transaction(async (manager) => {
          await t.store.append('volume:p2', 0, [created('p2')], { manager });
          throw new Error('handler failed after appending');
        }),
        /handler failed/,
      );
      assert.deepEqual(await t.store.readStream('volume:p2'), []);
      const rows: { name: string }[] = await t.dataSource.query(
        `SELECT name FROM volumes.volume_view WHERE name IN ('p1', 'p2')`,
      );
      assert.deepEqual(
        rows.map((r) => r.name),
        ['p1'],
      );
    });

    it('fails the append when a projection fails', async () => {
      // A second VolumeCreated for an existing name violates the view's primary key.
      await assert.rejects(t.store.append('volume:p1-again', 0, [created('p1')]), /duplicate key/);
      assert.deepEqual(await t.store.readStream('volume:p1-again'), []);
    });

    it('rebuilds a projection equal to the live one', async () => {
      await t.store.append('volume:r1', 0, [created('r1'), labelled('r1', { tier: 'gold' })]);
      await t.store.append('volume:r2', 0, [created('r2', 'tmpfs')]);
      await t.store.append('volume:r1', 2, [labelled('r1', { zone: 'b' }), removed('r1')]);
      await t.store.append('volume:r2', 1, [removed('r2')]);
      const live = await viewRows();
      assert.ok(live.length >= 3);

      // Damage the view the way a buggy release would.
      await t.dataSource.query(`DELETE FROM volumes.volume_view WHERE name = 'r2'`);
      await t.dataSource.query(`UPDATE volumes.volume_view SET touched = 99 WHERE name = 'r1'`);
      assert.notDeepEqual(await viewRows(), live);

      const result = await rebuildProjections(t.store);
      assert.deepEqual(result.projections, ['volume-view']);
      const [{ n }]: { n: number }[] = await t.dataSource.query('SELECT count(*)::int AS n FROM volumes.events');
      assert.equal(result.events, n);
      assert.deepEqual(await viewRows(), live);
    });
  });

  describe('one-statement appends (Projection.appendStatement)', () => {
    // A projection that can write inside the append's statement: per stream, how many marks and the
    // last version; `limit` (a CHECK) lets a test make its write fail.
    let applied = 0;
    const marks: Projection = {
      name: 'marks',
      tables: ['volumes.marks'],
      handles: ['Marked'],
      async apply() {
        applied++;
      },
      async applyAppend() {
        applied++;
      },
      appendStatement(events, hint, param, guard) {
        const start = hint as number;
        return `INSERT INTO volumes.marks (stream_id, n, last_version)
          SELECT ${param(events[0]!.streamId)}::text, ${param(start + events.length)}::int, ${param(events[events.length - 1]!.version)}::int
          WHERE ${guard}
          ON CONFLICT (stream_id) DO UPDATE SET n = EXCLUDED.n, last_version = EXCLUDED.last_version`;
      },
    };
    const mark = { type: 'Marked', schemaVersion: 1, data: {} };
    const row = async (stream: string) =>
      ((await t.dataSource.query(`SELECT n, last_version FROM volumes.marks WHERE stream_id = $1`, [stream])) as { n: number; last_version: number }[])[0];
    before(async () => {
      await t.dataSource.query(`CREATE TABLE volumes.marks (stream_id text PRIMARY KEY, n int NOT NULL CHECK (n < 100), last_version int NOT NULL)`);
      t.store.registerProjection(marks);
    });

    it('stores the events and the projection in one statement', async () => {
      const r = await t.store.append('mark:a', 0, [mark, mark], { projectionHints: { marks: 0 } });
      assert.equal(r.nextExpectedVersion, 2);
      assert.deepEqual(r.envelopes.map((e) => e.version), [1, 2]);
      assert.equal(applied, 0, 'no apply/applyAppend: the statement did the write');
      assert.deepEqual(await row('mark:a'), { n: 2, last_version: 2 });
      await t.store.append('mark:a', 2, [mark], { projectionHints: { marks: 2 }, durable: false });
      assert.deepEqual(await row('mark:a'), { n: 3, last_version: 3 });
    });

    it('writes neither events nor projection when the version is stale', async () => {
      await assert.rejects(t.store.append('mark:a', 1, [mark], { projectionHints: { marks: 1 } }), ConcurrencyError);
      assert.equal((await t.store.readStream('mark:a')).length, 3);
      assert.deepEqual(await row('mark:a'), { n: 3, last_version: 3 });
    });

    it('appends nothing when the projection statement fails', async () => {
      await assert.rejects(t.store.append('mark:b', 0, [mark], { projectionHints: { marks: 500 } }), /check constraint/);
      assert.deepEqual(await t.store.readStream('mark:b'), []);
      assert.equal(await row('mark:b'), undefined);
    });

    it('takes the transaction path without a hint', async () => {
      await t.store.append('mark:c', 0, [mark]);
      assert.equal(applied, 1, 'apply ran');
      assert.equal(await row('mark:c'), undefined);
    });

    it('runs several statements of one projection side by side in the append', async () => {
      await t.dataSource.query(`CREATE TABLE volumes.twins (k text PRIMARY KEY)`);
      t.store.registerProjection({
        name: 'twins',
        tables: ['volumes.twins'],
        handles: ['Twinned'],
        async apply() {
          applied++;
        },
        async applyAppend() {
          applied++;
        },
        appendStatement: (events, _hint, param, guard) =>
          ['a', 'b'].map((k) => `INSERT INTO volumes.twins (k) SELECT ${param(`${events[0]!.streamId}:${k}`)}::text WHERE ${guard}`),
      });
      const before = applied;
      await t.store.append('twin:x', 0, [{ type: 'Twinned', schemaVersion: 1, data: {} }], { projectionHints: { twins: null } });
      assert.equal(applied, before, 'no apply: the statements did the writes');
      assert.deepEqual((await t.dataSource.query(`SELECT k FROM volumes.twins ORDER BY k`)).map((r: { k: string }) => r.k), ['twin:x:a', 'twin:x:b']);
    });
  });

  describe('markProcessed', () => {
    it('is true the first time a consumer sees an event and false afterwards', async () => {
      const [event] = await t.store.readStream('volume:rt');
      await t.store.transaction(async (m) => {
        assert.equal(await markProcessed(m, 'audit', event.eventId), true);
        assert.equal(await markProcessed(m, 'audit', event.eventId), false);
        assert.equal(await markProcessed(m, 'dashboard', event.eventId), true);
      });
      // Rolled back with the consumer's transaction, so a failed apply is retried.
      const [other] = await t.store.readStream('volume:seq');
      await assert.rejects(
        t.store.transaction(async (m) => {
          assert.equal(await markProcessed(m, 'audit', other.eventId), true);
          throw new Error('apply failed');
        }),
      );
      assert.equal(await markProcessed(t.dataSource.manager, 'audit', other.eventId), true);
    });
  });

  describe('snapshots', () => {
    it('keeps the newest snapshot per stream', async () => {
      assert.equal(await t.store.loadSnapshot('volume:snap'), null);
      await t.store.saveSnapshot({ streamId: 'volume:snap', version: 5, schemaVersion: 1, state: { n: 5 } });
      await t.store.saveSnapshot({ streamId: 'volume:snap', version: 3, schemaVersion: 1, state: { n: 3 } });
      assert.deepEqual(await t.store.loadSnapshot('volume:snap'), {
        streamId: 'volume:snap',
        version: 5,
        schemaVersion: 1,
        state: { n: 5 },
      });
    });
  });
});
