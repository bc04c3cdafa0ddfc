import { type ExecView, type HealthConfig, type HealthLogEntry, type HealthStatus, SYSTEM_ACTOR } from '@berth/contracts';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mergeEnv } from '../container-spec';
import type { ContainerState } from '../container.decider';
import { ContainerRegistry } from '../container.registry';
import { RuntimeAdapter } from '../runtime.adapter';

/** moby's defaults (daemon/health.go); Docker's API durations are nanoseconds, 0 = default. */
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;
const MIN_MS = 1;

const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? Math.max(MIN_MS, Math.round(ns / 1e6)) : dflt);

/** go's time.Duration.String() for whole milliseconds/seconds (the timeout message: `(1s)`, `(500ms)`, `(1m30s)`). */
export function goDuration(msValue: number): string {
  if (msValue < 1000) return `${msValue}ms`;
  const h = Math.floor(msValue / 3_600_000);
  const m = Math.floor((msValue % 3_600_000) / 60_000);
  const s = (msValue % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** The check's argv: CMD runs as given, CMD-SHELL through /bin/sh -c; null for NONE or no check. */
export function probeArgs(hc: HealthConfig | null | undefined): string[] | null {
  const test = hc?.Test ?? [];
  if (!test.length || test[0] === 'NONE') return null;
  if (test[0] === 'CMD') return test.length > 1 ? test.slice(1) : null;
  if (test[0] === 'CMD-SHELL') return test.length > 1 ? ['/bin/sh', '-c', test.slice(1).join(' ')] : null;
  return ['/bin/sh', '-c', test.join(' ')];
}

export interface ProbeResult {
  readonly exitCode: number;
  readonly start: string;
  readonly end: string;
  readonly output: string;
}

/** moby's handleProbeResult: the next status and failing streak after one probe. */
export function nextHealth(
  current: { status: HealthStatus; failingStreak: number },
  result: ProbeResult,
  hc: HealthConfig,
  startedAt: string,
): { status: HealthStatus; failingStreak: number } {
  if (result.exitCode === 0) return { status: 'healthy', failingStreak: 0 };
  if (current.status === 'starting') {
    const startPeriod = ms(hc.StartPeriod, 0);
    if (Date.parse(result.start) - Date.parse(startedAt) < startPeriod) return current;
  }
  const failingStreak = current.failingStreak + 1;
  const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES;
  return { status: failingStreak >= retries ? 'unhealthy' : current.status, failingStreak };
}

interface Monitor {
  readonly id: string;
  /** the run being checked: a restart is a new monitor */
  readonly startedAt: string;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

/**
 * Docker's healthchecks: for each running container with a Healthcheck (Config or the image's), probe
 * on schedule as an exec through the executor (exec.create with captured output, exec.start, exec.wait
 * which kills it at Timeout), and record ContainerHealthChanged (status, FailingStreak, last 5 results).
 * Probes of one container run one after another (moby's monitor loop); Interval counts from the end of
 * the previous probe; StartInterval applies during StartPeriod while the status is `starting`. The
 * monitor follows the registry: it starts with a run and stops when the container stops, pauses
 * (probes skipped) or goes away.
 */
@Injectable()
export class HealthChecker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('health');
  private readonly monitors = new Map<string, Monitor>();
  private off?: () => void;
  private closed = false;

  constructor(
    private readonly registry: ContainerRegistry,
    private readonly runtime: RuntimeAdapter,
  ) {}

  onApplicationBootstrap(): void {
    this.off = this.registry.onChange((state, _events, before) => {
      if (state) this.sync(state);
      else if (before) this.stop(before.id);
    });
    for (const c of this.registry.all()) this.sync(c);
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.off?.();
    for (const id of [...this.monitors.keys()]) this.stop(id);
  }

  /** How many containers are being checked (tests, metrics). */
  get active(): number {
    return this.monitors.size;
  }

  private sync(c: ContainerState): void {
    const wanted = (c.status === 'running' || c.status === 'paused') && !!c.health && probeArgs(c.config.Healthcheck) !== null;
    const m = this.monitors.get(c.id);
    if (!wanted) {
      if (m) this.stop(c.id);
      return;
    }
    if (m && m.startedAt === c.startedAt) return;
    if (m) this.stop(c.id);
    const monitor: Monitor = { id: c.id, startedAt: c.startedAt, stopped: false };
    this.monitors.set(c.id, monitor);
    this.schedule(monitor);
  }

  private stop(id: string): void {
    const m = this.monitors.get(id);
    if (!m) return;
    m.stopped = true;
    if (m.timer) clearTimeout(m.timer);
    this.monitors.delete(id);
  }

  private current(m: Monitor): ContainerState | null {
    const c = this.registry.get(m.id);
    if (m.stopped || this.closed || !c || c.startedAt !== m.startedAt) return null;
    if (c.status !== 'running' && c.status !== 'paused') return null;
    return c;
  }

  private interval(c: ContainerState): number {
    const hc = c.config.Healthcheck ?? {};
    const probe = ms(hc.Interval, DEFAULT_INTERVAL_MS);
    const startPeriod = ms(hc.StartPeriod, 0);
    if (Date.now() - Date.parse(c.startedAt) >= startPeriod) return probe;
    return c.health?.status === 'starting' ? ms(hc.StartInterval, DEFAULT_START_INTERVAL_MS) : probe;
  }

  private schedule(m: Monitor): void {
    const c = this.current(m);
    if (!c) return;
    m.timer = setTimeout(() => void this.tick(m), this.interval(c));
    m.timer.unref();
  }

  private async tick(m: Monitor): Promise<void> {
    const c = this.current(m);
    if (!c) return;
    try {
      // A frozen container can't run a probe; Docker's would fail. Wait for unpause instead.
      if (c.status === 'running') await this.probe(m, c);
    } catch (e) {
      this.logger.warn(`health ${m.id.slice(0, 12)}: ${(e as Error).message}`);
    }
    this.schedule(m);
  }

  private async probe(m: Monitor, c: ContainerState): Promise<void> {
    const hc = c.config.Healthcheck ?? {};
    const args = probeArgs(hc)!;
    const timeoutMs = ms(hc.Timeout, DEFAULT_TIMEOUT_MS);
    const execId = randomBytes(32).toString('hex');
    const exec: ExecView = {
      id: execId,
      containerId: c.id,
      running: false,
      exitCode: null,
      pid: 0,
      openStdin: false,
      openStdout: true,
      openStderr: true,
      tty: false,
      privileged: false,
      user: c.config.User ?? '',
      entrypoint: args[0]!,
      arguments: args.slice(1),
      workingDir: c.config.WorkingDir ?? '',
      env: [],
      detachKeys: '',
      healthcheck: true,
    };
    const start = new Date().toISOString();
    let result: ProbeResult;
    await this.registry.record(c.id, { type: 'CreateExec', exec }, SYSTEM_ACTOR);
    try {
      await this.runtime.execCreate(
        c.id,
        execId,
        {
          args,
          env: mergeEnv(c.config.Env),
          cwd: c.config.WorkingDir || '/',
          ...(c.config.User ? { user: c.config.User } : {}),
          tty: false,
          openStdin: false,
        },
        false,
        true,
      );
      const started = await this.runtime.execStart(c.id, execId);
      await this.registry.record(c.id, { type: 'RecordExecStarted', execId, pid: started.pid }, SYSTEM_ACTOR).catch(() => undefined);
      const done = await this.runtime.execWait(c.id, execId, timeoutMs, true);
      const end = new Date().toISOString();
      if (done.timedOut) {
        result = { exitCode: -1, start, end, output: `Health check exceeded timeout (${goDuration(timeoutMs)})` };
      } else {
        result = { exitCode: done.exitCode ?? -1, start, end, output: done.output };
      }
      if (done.exitCode !== null) {
        await this.registry.record(c.id, { type: 'RecordExecExited', execId, exitCode: done.exitCode }, SYSTEM_ACTOR).catch(() => undefined);
      }
    } catch (e) {
      // exec could not start (missing binary, container gone): moby records -1 with the error text
      result = { exitCode: -1, start, end: new Date().toISOString(), output: (e as Error).message };
      if (this.registry.get(c.id)?.execs[execId]) {
        await this.registry.record(c.id, { type: 'RecordExecStarted', execId, pid: 0 }, SYSTEM_ACTOR).catch(() => undefined);
        await this.registry.record(c.id, { type: 'RecordExecExited', execId, exitCode: 126 }, SYSTEM_ACTOR).catch(() => undefined);
      }
    }
    // The run may have ended while the probe ran: its result no longer counts.
    const now = this.current(m);
    if (!now || !now.health) return;
    const next = nextHealth(now.health, result, hc, now.startedAt);
    const entry: HealthLogEntry = { Start: result.start, End: result.end, ExitCode: result.exitCode, Output: result.output };
    await this.registry.record(c.id, { type: 'RecordHealth', status: next.status, failingStreak: next.failingStreak, entry }, SYSTEM_ACTOR);
  }
}
