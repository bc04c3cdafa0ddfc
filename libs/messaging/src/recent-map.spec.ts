import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RecentMap } from './recent-map';

describe('RecentMap', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000 }));
  afterEach(() => mock.timers.reset());

  it('keeps entries for ttlMs, at most max of them (oldest out), take forgets', () => {
    const m = new RecentMap<number>(100, 2);
    m.put('a', 1);
    m.put('b', 2);
    m.put('c', 3);
    assert.equal(m.get('a'), undefined, 'the oldest went');
    assert.equal(m.get('b'), 2);
    assert.equal(m.take('b'), 2);
    assert.equal(m.get('b'), undefined);
    mock.timers.tick(101);
    assert.equal(m.get('c'), undefined, 'expired');
    assert.equal(m.size, 0);
  });

  it('a key put again is the newest, with a fresh ttl, and takes no second place', () => {
    const m = new RecentMap<number>(100, 2);
    m.put('a', 1);
    m.put('b', 2);
    mock.timers.tick(60);
    m.put('a', 10);
    assert.equal(m.size, 2);
    m.put('c', 3);
    assert.equal(m.get('b'), undefined, 'b was the oldest');
    mock.timers.tick(60);
    assert.equal(m.get('a'), 10, '60 ms since it was put again');
  });
});
