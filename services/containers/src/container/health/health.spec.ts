import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goDuration, nextHealth, probeArgs } from './health-checker';
import { mergeHealthcheck, validateHealthcheck } from './health-config';

const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
const result = (exitCode: number, s = 10) => ({ exitCode, start: at(s), end: at(s), output: '' });

describe('healthchecks', () => {
  it('probe argv: CMD as given, CMD-SHELL through /bin/sh -c, NONE/empty none', () => {
    assert.deepEqual(probeArgs({ Test: ['CMD', 'curl', '-f', 'x'] }), ['curl', '-f', 'x']);
    assert.deepEqual(probeArgs({ Test: ['CMD-SHELL', 'echo hi; false'] }), ['/bin/sh', '-c', 'echo hi; false']);
    assert.equal(probeArgs({ Test: ['NONE'] }), null);
    assert.equal(probeArgs({ Test: [] }), null);
    assert.equal(probeArgs(null), null);
  });

  it("moby's rules: success resets, Retries failures make unhealthy, StartPeriod failures do not count", () => {
    const hc = { Retries: 2 };
    let h = { status: 'starting' as const as 'starting' | 'healthy' | 'unhealthy', failingStreak: 0 };
    h = nextHealth(h, result(1), hc, at(0)) as typeof h;
    assert.deepEqual(h, { status: 'starting', failingStreak: 1 });
    h = nextHealth(h, result(1), hc, at(0)) as typeof h;
    assert.deepEqual(h, { status: 'unhealthy', failingStreak: 2 });
    h = nextHealth(h, result(0), hc, at(0)) as typeof h;
    assert.deepEqual(h, { status: 'healthy', failingStreak: 0 });
    // within StartPeriod (30s, in ns) a failure while starting leaves the streak alone
    const inStart = nextHealth({ status: 'starting', failingStreak: 0 }, result(3, 10), { StartPeriod: 30e9 }, at(0));
    assert.deepEqual(inStart, { status: 'starting', failingStreak: 0 });
    // default Retries is 3
    assert.equal(nextHealth({ status: 'healthy', failingStreak: 2 }, result(1), {}, at(0)).status, 'unhealthy');
    assert.equal(nextHealth({ status: 'healthy', failingStreak: 1 }, result(1), {}, at(0)).status, 'healthy');
  });

  it("go's duration text for the timeout message", () => {
    assert.equal(goDuration(1000), '1s');
    assert.equal(goDuration(500), '500ms');
    assert.equal(goDuration(90_000), '1m30s');
    assert.equal(goDuration(30_000), '30s');
  });

  it('merge with the image check and validation wording', () => {
    assert.deepEqual(mergeHealthcheck({ Interval: 2e9 }, { Test: ['CMD', 'x'], Interval: 1e9, Retries: 5 }), {
      Interval: 2e9,
      Test: ['CMD', 'x'],
      Timeout: undefined,
      StartPeriod: undefined,
      StartInterval: undefined,
      Retries: 5,
    });
    assert.deepEqual(mergeHealthcheck(undefined, { Test: ['NONE'] }), { Test: ['NONE'] });
    assert.throws(() => validateHealthcheck({ Interval: 10 }), /Interval in Healthcheck cannot be less than 1ms/);
    assert.throws(() => validateHealthcheck({ Retries: -1 }), /Retries in Healthcheck cannot be negative/);
    assert.doesNotThrow(() => validateHealthcheck({ Test: ['CMD-SHELL', 'true'], Interval: 0, Timeout: 1e6 }));
  });
});
