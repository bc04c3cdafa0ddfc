import { invalid } from '@berth/contracts';

const NANOS_PER_SECOND = 1_000_000_000n;
const UNIX = /^(-?\d+)(?:\.(\d{1,9})\d*)?$/;
const RFC3339 =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * `since`/`until` of `/events`: unix seconds with an optional fraction (what the CLI sends, e.g.
 * `1700000000.000000000`; a short fraction is scaled like moby's `ParseTimestamps`, `.5` = 500 ms) or an
 * RFC 3339 date. Returns nanoseconds since the epoch, or null when absent.
 */
export function parseEventTime(value: string | undefined, name: 'since' | 'until'): bigint | null {
  if (value === undefined || value === '') return null;
  const unix = UNIX.exec(value);
  if (unix) {
    const seconds = BigInt(unix[1]);
    const fraction = BigInt((unix[2] ?? '').padEnd(9, '0'));
    return seconds * NANOS_PER_SECOND + fraction;
  }
  const date = RFC3339.exec(value);
  if (date) {
    const [, day, clock, fraction, zone] = date;
    const seconds = clock.length === 5 ? `${clock}:00` : clock;
    const tz = !zone || zone === 'z' ? 'Z' : zone;
    const ms = Date.parse(`${day}T${seconds}${tz}`);
    if (!Number.isNaN(ms)) {
      return BigInt(ms) * 1_000_000n + BigInt((fraction ?? '').slice(0, 9).padEnd(9, '0'));
    }
  }
  throw invalid(`invalid value for '${name}': ${value} is not a unix timestamp or an RFC 3339 date`);
}

export const nowNanos = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** Docker's `time` (whole seconds) from `timeNano`. */
export const secondsOf = (nanos: bigint): bigint => nanos / NANOS_PER_SECOND;
