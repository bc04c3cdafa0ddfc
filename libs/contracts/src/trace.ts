/**
 * Opt-in latency trace: with BERTH_TRACE=1 a process writes one stderr line per traced step
 * (`trace <label> <ms>`), so a slow `docker run` can be taken apart without a profiler. Off by default;
 * when off, `traceStart` returns 0 and `traceEnd` does nothing.
 */
const enabled = process.env.BERTH_TRACE === '1';

export function traceStart(): number {
  return enabled ? performance.now() : 0;
}

export function traceEnd(label: string, started: number): void {
  if (!enabled) return;
  process.stderr.write(`trace ${new Date().toISOString().slice(11, 23)} ${label} ${(performance.now() - started).toFixed(1)}ms\n`);
}
