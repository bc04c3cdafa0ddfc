import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEventTime, secondsOf } from './event-time';

test('unix seconds, with or without a fraction', () => {
  assert.equal(parseEventTime('1700000000', 'since'), 1_700_000_000_000_000_000n);
  assert.equal(parseEventTime('1700000000.000000000', 'since'), 1_700_000_000_000_000_000n);
  assert.equal(parseEventTime('1700000000.123456789', 'since'), 1_700_000_000_123_456_789n);
  // a short fraction is scaled, as moby's ParseTimestamps does: .5 = 500 ms
  assert.equal(parseEventTime('1700000000.5', 'until'), 1_700_000_000_500_000_000n);
  assert.equal(parseEventTime('0', 'since'), 0n);
});

test('RFC 3339 dates', () => {
  assert.equal(parseEventTime('2023-11-14T22:13:20Z', 'since'), 1_700_000_000_000_000_000n);
  assert.equal(parseEventTime('2023-11-14T22:13:20.25Z', 'since'), 1_700_000_000_250_000_000n);
  assert.equal(parseEventTime('2023-11-15T00:13:20+02:00', 'since'), 1_700_000_000_000_000_000n);
});

test('absent is null, garbage is a 400 naming the parameter', () => {
  assert.equal(parseEventTime(undefined, 'since'), null);
  assert.equal(parseEventTime('', 'since'), null);
  assert.throws(() => parseEventTime('yesterday', 'until'), /invalid value for 'until'/);
});

test('seconds of a nanosecond time', () => {
  assert.equal(secondsOf(1_700_000_000_999_999_999n), 1_700_000_000n);
});
