import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generationsChannel } from '@berth/contracts';
import { GenerationFeed, GenerationWatch, type ReplyChannelSubscriber } from './generations';

class FakeSubscriber implements ReplyChannelSubscriber {
  onMessage?: (raw: string) => void;
  onReset?: () => void;
  channel?: string;
  fail = false;
  calls = 0;
  async subscribeAlongReplies(channel: string, onMessage: (raw: string) => void, onReset: () => void): Promise<void> {
    this.calls++;
    if (this.fail) throw new Error('redis down');
    this.channel = channel;
    this.onMessage = onMessage;
    this.onReset = onReset;
  }
}

const notice = (service: string, instance: string, counter: number) => JSON.stringify({ service, instance, counter });
const tick = () => new Promise((r) => setImmediate(r));

async function watching(now: { t: number }) {
  const sub = new FakeSubscriber();
  const watch = new GenerationWatch({ namespace: 'ns', services: ['containers', 'network'], subscriber: sub, staleAfterMs: 1000, now: () => now.t });
  watch.start();
  await tick();
  return { sub, watch };
}

describe('GenerationFeed', () => {
  it('publishes the token on every bump and as a heartbeat, only once bumped', () => {
    const sent: [string, string][] = [];
    const feed = new GenerationFeed({
      namespace: 'ns',
      service: 'containers',
      publisher: { publishBeforeReplies: (c, m) => (sent.push([c, m]), true) },
      heartbeatMs: 60_000,
    });
    feed.start();
    assert.equal(sent.length, 0, 'a feed nobody bumped stays silent');
    feed.bump();
    feed.bump();
    assert.equal(feed.token, `${feed.instance}:2`);
    assert.deepEqual(sent, [
      [generationsChannel('ns'), notice('containers', feed.instance, 1)],
      [generationsChannel('ns'), notice('containers', feed.instance, 2)],
    ]);
    feed.stop();
  });

  it('has a new instance per process object, so a restart changes the token', () => {
    const a = new GenerationFeed({ namespace: 'ns', service: 'x', publisher: null });
    const b = new GenerationFeed({ namespace: 'ns', service: 'x', publisher: null });
    a.bump();
    b.bump();
    assert.notEqual(a.token, b.token);
  });
});

describe('GenerationWatch', () => {
  it('is not trusted before the first notice, then moves on every change only', async () => {
    const now = { t: 0 };
    const { sub, watch } = await watching(now);
    assert.equal(sub.channel, generationsChannel('ns'));
    assert.equal(watch.current('containers'), undefined);
    sub.onMessage!(notice('containers', 'a', 5));
    const first = watch.current('containers');
    assert.ok(first);
    assert.equal(watch.current('network'), undefined, 'each service on its own');
    sub.onMessage!(notice('containers', 'a', 5)); // heartbeat
    assert.equal(watch.current('containers'), first);
    sub.onMessage!(notice('containers', 'a', 6));
    const second = watch.current('containers');
    assert.ok(second && second !== first);
    sub.onMessage!(notice('containers', 'b', 1)); // a restarted instance
    assert.notEqual(watch.current('containers'), second);
  });

  it('forgets everything when the connection closed, until a notice arrives again', async () => {
    const now = { t: 0 };
    const { sub, watch } = await watching(now);
    sub.onMessage!(notice('containers', 'a', 5));
    const before = watch.current('containers');
    sub.onReset!();
    assert.equal(watch.current('containers'), undefined);
    sub.onMessage!(notice('containers', 'a', 5));
    const after = watch.current('containers');
    assert.ok(after);
    assert.notEqual(after, before, 'what was cached before the gap is never taken as current again');
  });

  it('stops trusting a service that stopped beating', async () => {
    const now = { t: 0 };
    const { sub, watch } = await watching(now);
    sub.onMessage!(notice('network', 'n', 1));
    now.t = 900;
    assert.ok(watch.current('network'));
    now.t = 1001;
    assert.equal(watch.current('network'), undefined);
    sub.onMessage!(notice('network', 'n', 1));
    assert.ok(watch.current('network'));
  });

  it('ignores malformed notices and services it does not follow', async () => {
    const now = { t: 0 };
    const { sub, watch } = await watching(now);
    for (const raw of ['', 'nope', 'null', '[]', '{"service":"containers"}', '{"service":"containers","instance":1,"counter":1}', notice('images', 'i', 1)]) {
      sub.onMessage!(raw);
    }
    assert.equal(watch.current('containers'), undefined);
    assert.equal(watch.current('images'), undefined);
  });

  it('retries the subscription (at most once a second) while it fails', async () => {
    const now = { t: 0 };
    const sub = new FakeSubscriber();
    sub.fail = true;
    const watch = new GenerationWatch({ namespace: 'ns', services: ['containers'], subscriber: sub, now: () => now.t });
    watch.start();
    await tick();
    assert.equal(watch.current('containers'), undefined);
    assert.equal(sub.calls, 1);
    now.t = 500;
    watch.current('containers');
    assert.equal(sub.calls, 1);
    sub.fail = false;
    now.t = 1000;
    watch.current('containers');
    await tick();
    assert.equal(sub.calls, 2);
    sub.onMessage!(notice('containers', 'a', 1));
    assert.ok(watch.current('containers'));
  });

  it('without a subscriber is never trusted', () => {
    const watch = new GenerationWatch({ namespace: 'ns', services: ['containers'], subscriber: null });
    watch.start();
    assert.equal(watch.current('containers'), undefined);
  });
});
