/**
 * Container and exec jobs: bundle → berth-shim → berth-init, and the observations that follow.
 *
 *   prepare ─▶ <data-root>/containers/<id>/{upper,work,rootfs,layers.json}
 *   create  ─▶ hostname/hosts/resolv.conf/config.json, spawn berth-shim (ready line), run.json
 *   start   ─▶ control.sock `start`; `container.started`; watch(): `subscribe` pushes the exit
 *   exit    ─▶ `container.oom`? + `container.exited`, `reported` marker, shim shutdown, cgroup removed
 *
 * Everything the host knows about a run is on disk in the shim's state dir (run.json, shim.json,
 * exit.json, reported), so a restarted executor rebuilds it: `reconcile()` re-subscribes to every
 * live shim and reports exits that happened while it was down, under the same observation ids.
 */
import {
  ContainerObservation,
  containerPaths,
  DomainError,
  ErrorCode,
  invalid,
  notFound,
  conflict,
  type ContainerCreatePayload,
  type ContainerObservationData,
  type ContainerPaths,
  type ContainerPreparePayload,
  type ContainerResources,
  type ContainerRuntimeState,
  type ContainerStatsResult,
  type ContainerStopPayload,
  type ExecCreatePayload,
  type ExecRuntimeState,
  type ExecutorObservation,
} from '@berth/contracts';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { access, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cgroup, InitError } from '../../native';
import { traceEnd, traceStart } from '@berth/contracts';
import { ShimClient, ShimError, spawnShim, type ShimExit } from '../../shim-client';
import { capabilitySet, configJson, hostsFile, ociResources, resolvConf, securityOptions, signalNumber } from './bundle';
import { listCgroupPids } from './cgroups';
import { SeccompCache } from './seccomp-cache';
import { BLANK_SUBDIRS, BlankDirs, SUBDIR_MODES, spreadSubdirs } from './blank-dirs';
import { ensureInitLayer, initLayerRoot } from './init-layer';
import { safeReaddir } from './fs-util';
import { onTmpfs } from './state-tmpfs';

const execFileAsync = promisify(execFile);

/** What the host writes beside the shim's own files. */
interface RunInfo {
  kind: 'container' | 'exec';
  containerId: string;
  execId?: string;
  pid: number;
  shimPid: number;
  startedAt?: string;
}

export type Publish = <K extends ContainerObservation>(
  kind: K,
  subject: string,
  observationId: string,
  data: ContainerObservationData[K],
) => Promise<void>;

export interface Logger {
  log(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const readJson = <T>(path: string): T | null => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
};

/** What exec reads of its container's config.json. */
type RunConfig = { process: Record<string, unknown>; linux: { seccomp: string | null } };

/** readJson off the event loop (the hot paths: exec create/start, exit reporting). */
const readJsonAsync = async <T>(path: string): Promise<T | null> => {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
};

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

export function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is not alive
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const start = Date.now();
  // A shim told to shut down is gone within a millisecond: look again at once, then every ms for a
  // while (a removal waits for this), then every 5 ms.
  for (let n = 0; alive(pid); n++) {
    const waited = Date.now() - start;
    if (waited > timeoutMs) return false;
    await new Promise((r) => (n === 0 ? setImmediate(r) : setTimeout(r, waited < 50 ? 1 : 5)));
  }
  return true;
}

/** Container dirs kept ready (BlankDirs): a burst's first creates take one each. */
const BLANK_DIRS = 8;

/** Shim and init failures as DomainErrors with Docker's wording and codes. */
function domainError(e: unknown, id: string): DomainError {
  if (e instanceof DomainError) return e;
  if (e instanceof ShimError) {
    if (e.code === 'not_running' || e.code === 'exited') return conflict(`Container ${id} is not running`);
    if (e.code === 'already_started') return conflict(`Container ${id} is already started`);
    if (e.code === 'no_tty') return invalid(`Container ${id} has no TTY`);
    if (e.code === 'start_failed' && e.detail?.stage === 'exec')
      return invalid(`failed to create task for container: ${e.message}`);
    return new DomainError(ErrorCode.Internal, `${e.detail?.stage ? `${e.detail.stage}: ` : ''}${e.message}`);
  }
  if (e instanceof InitError) return new DomainError(ErrorCode.Internal, `${e.stage}: ${e.message}`);
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT' || (e as NodeJS.ErrnoException)?.code === 'ECONNREFUSED')
    return conflict(`Container ${id} is not running`);
  return DomainError.from(e);
}

export class ContainerRuntime {
  readonly seccomp: SeccompCache;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** stateDir → the watch in progress */
  private readonly watching = new Map<string, Promise<void>>();
  private readonly reporting = new Map<string, Promise<void>>();
  /** Prepared by this process and never created: their layer dirs (no layers.json read, no stale run or cgroup to clear). */
  private readonly fresh = new Map<string, string[]>();
  /** containers whose last run the exit watch took down (execs, shim, cgroups): removal only deletes files */
  private readonly tornDown = new Set<string>();
  /** Created by this process, waiting for their start: the run (no run.json read at start). */
  private readonly created = new Map<string, RunInfo>();
  /** Containers this process started whose exit it has not seen yet: their init's pid. */
  private readonly live = new Map<string, number>();
  /** Execs created by this process, waiting for their start, by state dir: the run. */
  private readonly execsCreated = new Map<string, RunInfo>();
  /** Container dirs made ahead of the creates that take them. */
  private readonly blanks: BlankDirs;
  /** The layer above every container's image layers (see ensureInitLayer). */
  private readonly initLayer: string;
  /**
   * The state root is a tmpfs (see ensureStateTmpfs): its files are written synchronously, which costs
   * µs there, rather than through the thread pool (a wake-up of the event loop per call).
   */
  private readonly stateInMemory: boolean;
  private closed = false;

  constructor(
    readonly dataRoot: string,
    readonly execRoot: string,
    private readonly publish: Publish,
    private readonly logger: Logger,
  ) {
    this.seccomp = new SeccompCache(dataRoot);
    mkdirSync(join(dataRoot, 'containers'), { recursive: true });
    mkdirSync(this.stateRoot, { recursive: true, mode: 0o711 });
    this.stateInMemory = onTmpfs(this.stateRoot);
    // No init layer yet: this data root was last run by an executor before it, which made `/` 0710.
    const upgrading = !existsSync(initLayerRoot(dataRoot));
    this.initLayer = ensureInitLayer(dataRoot);
    this.blanks = new BlankDirs(join(dataRoot, 'blank'), BLANK_DIRS, (e) => this.logger.warn(`blank container dirs: ${e.message}`));
    void spreadSubdirs([this.blanks.root, join(dataRoot, 'containers')], (e) => this.logger.warn(e.message));
    this.linkLegacyStateDirs();
    if (upgrading) this.openLockedRoots();
  }

  /**
   * Containers made by an executor that gave upper/ mode 0710 (their `/`, which every uid:gid but
   * root's could not enter): 0755, as Docker's. Only that exact mode is changed, and only on the first
   * start with an init layer (the executors since make upper/ 0755), not a scan on every start.
   */
  private openLockedRoots(): void {
    for (const id of safeReaddir(join(this.dataRoot, 'containers'))) {
      const upper = join(this.dataRoot, 'containers', id, 'upper');
      try {
        if ((statSync(upper).mode & 0o7777) === 0o710) chmodSync(upper, SUBDIR_MODES.upper);
      } catch {
        // not a container dir, or gone meanwhile
      }
    }
  }

  /**
   * Shims started by an executor that kept their state dirs under `<data-root>/s` still run and still
   * listen there: each such dir is linked in under the state root, so they are found and handled as
   * any other (their removal deletes the link and the dir).
   */
  private linkLegacyStateDirs(): void {
    const legacy = join(this.dataRoot, 's');
    for (const name of safeReaddir(legacy)) {
      const link = join(this.stateRoot, name);
      if (existsSync(link)) continue;
      try {
        symlinkSync(join(legacy, name), link);
      } catch (e) {
        this.logger.warn(`state dir ${join(legacy, name)}: ${(e as Error).message}`);
      }
    }
  }

  /** the shims' state dirs (see containerPaths) */
  get stateRoot(): string {
    return join(this.execRoot, 's');
  }

  paths(id: string): ContainerPaths {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw invalid(`invalid container id: ${JSON.stringify(id)}`);
    return containerPaths(this.dataRoot, this.execRoot, id);
  }

  /** Serialises create/remove/post-exit cleanup of one container (a restart must not lose its new cgroup). */
  private lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  // ── prepare / create / start ────────────────────────────────────────────────────────────────

  async prepare({ id, layerDirs }: ContainerPreparePayload) {
    const p = this.paths(id);
    await (await this.prepareDirs(id, p, layerDirs)).layersJson;
    return { dir: p.dir, rootfs: p.rootfs };
  }

  /**
   * The container's dir: a blank one renamed into place, or made here when none is ready. Resolves once
   * the dirs exist, with the write of layers.json (the init layer, then the image's layers, top first)
   * under way (a create spawns the shim meanwhile; its failure is the caller's to await).
   */
  private async prepareDirs(id: string, p: ContainerPaths, layerDirs: string[]): Promise<{ layersJson: Promise<void> }> {
    if (!Array.isArray(layerDirs) || !layerDirs.length) throw invalid('container.prepare: layerDirs is empty');
    for (const d of layerDirs) {
      if (!d.startsWith('/') || d.includes(':') || d.includes(',')) throw invalid(`invalid layer dir ${d}`);
      if (!existsSync(d)) throw notFound(`layer dir ${d} does not exist`);
    }
    if (existsSync(p.dir) || !this.blanks.take(p.dir)) {
      // Asynchronous (the thread pool): on these disks a mkdir takes ms, and 50 concurrent creates queued
      // behind each other's synchronous calls on the event loop.
      await mkdir(p.dir, { recursive: true, mode: 0o710 });
      await Promise.all(BLANK_SUBDIRS.map((s) => mkdir(p[s], { recursive: true, mode: SUBDIR_MODES[s] })));
    }
    const lowers = [this.initLayer, ...layerDirs];
    const layersJson = writeFile(join(p.dir, 'layers.json'), JSON.stringify(lowers));
    layersJson.catch(() => undefined); // not unhandled while the caller spawns
    if (!existsSync(p.stateDir)) this.fresh.set(id, lowers);
    return { layersJson };
  }

  private async makeStateDir(dir: string): Promise<void> {
    if (this.stateInMemory) mkdirSync(dir, { recursive: true, mode: 0o700 });
    else await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  /** A file in a state dir (see stateInMemory). */
  private async writeState(path: string, content: string): Promise<void> {
    if (this.stateInMemory) writeFileSync(path, content);
    else await writeFile(path, content);
  }

  /** A JSON file in a state dir, null when missing or malformed (see stateInMemory). */
  private readState<T>(path: string): Promise<T | null> {
    return this.stateInMemory ? Promise.resolve(readJson<T>(path)) : readJsonAsync<T>(path);
  }

  /** Whether a path in a state dir exists (see stateInMemory). */
  private stateExists(path: string): Promise<boolean> {
    return this.stateInMemory ? Promise.resolve(existsSync(path)) : exists(path);
  }

  create({ id, spec, layerDirs }: ContainerCreatePayload) {
    return this.lock(id, async () => {
      const p = this.paths(id);
      let t0 = traceStart();
      let layersJson: Promise<void> | undefined;
      if (layerDirs && !this.fresh.has(id) && !existsSync(join(p.dir, 'layers.json'))) ({ layersJson } = await this.prepareDirs(id, p, layerDirs));
      const fresh = this.fresh.get(id);
      this.fresh.delete(id);
      this.created.delete(id);
      this.tornDown.delete(id);
      const lowerdirs = fresh ?? (await readJsonAsync<string[]>(join(p.dir, 'layers.json')));
      if (!lowerdirs) throw notFound(`No such container: ${id} (not prepared on this node)`);
      if (!fresh) await this.retireRun(id, p);
      traceEnd('create.read+retire', t0); t0 = traceStart();
      const caps = capabilitySet(spec);
      const sec = securityOptions(spec);
      const seccompPath =
        sec.seccomp === 'unconfined' ? null : await this.seccomp.get(caps, sec.seccomp === 'default' ? undefined : sec.seccomp.profile);
      const config = configJson({ id, spec, paths: p, lowerdirs, seccompPath, caps, noNewPrivileges: sec.noNewPrivileges });
      await this.makeStateDir(p.stateDir);
      await Promise.all([
        this.writeState(p.hostname, `${spec.hostname}\n`),
        this.writeState(p.hosts, hostsFile(spec)),
        this.writeState(p.resolvConf, resolvConf(spec)),
        this.writeState(p.configJson, JSON.stringify(config)),
      ]);
      // A stale group from a crashed run would carry its old limits and processes.
      if (!fresh) await removeCgroup(p.cgroup).catch(() => undefined);
      traceEnd('create.files', t0); t0 = traceStart();
      let spawned = false;
      try {
        const ready = await spawnShim({
          id,
          stateDir: p.stateDir,
          bundle: p.stateDir,
          logPath: p.log,
          logMaxSize: spec.log?.maxSize,
          logMaxFile: spec.log?.maxFile,
          tty: spec.process.tty,
          openStdin: spec.process.openStdin,
          stdinOnce: spec.process.stdinOnce,
          cgroup: p.cgroup,
        });
        spawned = true;
        traceEnd('create.spawn', t0); t0 = traceStart();
        const run: RunInfo = { kind: 'container', containerId: id, pid: ready.pid, shimPid: ready.shimPid };
        await Promise.all([this.writeState(join(p.stateDir, 'run.json'), JSON.stringify(run)), layersJson]);
        this.created.set(id, run);
        traceEnd('create.runjson', t0);
        return ready;
      } catch (e) {
        // the shim goes with its state dir (it exits when its container does)
        if (spawned) await cgroup.kill(p.cgroup, 9).catch(() => undefined);
        await removeCgroup(p.cgroup).catch(() => undefined);
        rmSync(p.stateDir, { recursive: true, force: true });
        throw domainError(e, id);
      }
    });
  }

  async start({ id }: { id: string }) {
    const p = this.paths(id);
    const cached = this.created.get(id);
    this.created.delete(id);
    const run = cached ?? (await readJsonAsync<RunInfo>(join(p.stateDir, 'run.json')));
    if (!run) throw conflict(`Container ${id} is not created: run container.create first`);
    let started: { pid: number; startedAt: string };
    try {
      started = await this.startThroughShim(p.stateDir, run, () => this.watch(id));
    } catch (e) {
      // A redelivered job (the executor died after starting it) answers like the first time.
      if (e instanceof ShimError && (e.code === 'already_started' || e.code === 'exited') && run.startedAt) {
        return { pid: run.pid, startedAt: run.startedAt };
      }
      throw domainError(e, id);
    }
    // Not awaited: the service records the start from this reply; the observation only covers a start
    // it missed, and it stays ahead of the exit's (one Redis connection, in order).
    void this.publish(ContainerObservation.Started, id, `${id}:started:${started.startedAt}`, started).catch((e) =>
      this.logger.warn(`publish started ${id}: ${(e as Error).message}`),
    );
    this.live.set(id, started.pid);
    this.watch(id);
    return started;
  }

  /**
   * Sends a created container's or exec's shim its "start" and records startedAt in run.json. An execve
   * failure is an exit like any other (126/127): it is recorded too, and `watch` reports it.
   */
  private async startThroughShim(stateDir: string, run: RunInfo, watch: () => void): Promise<{ pid: number; startedAt: string }> {
    const record = () => this.writeState(join(stateDir, 'run.json'), JSON.stringify(run));
    try {
      const started = await new ShimClient(stateDir).start();
      run.startedAt = started.startedAt;
      await record();
      return started;
    } catch (e) {
      if (e instanceof ShimError && e.code === 'start_failed') {
        run.startedAt = new Date().toISOString();
        await record();
        watch();
      }
      throw e;
    }
  }

  /** Ends what is left of a previous run before a new create: its shim, exec shims and cgroup. */
  private async retireRun(id: string, p: ContainerPaths) {
    if (!existsSync(p.stateDir)) return;
    const client = new ShimClient(p.stateDir);
    const st = await client.state().catch(() => null);
    if (st && (st.status === 'running' || st.status === 'creating')) throw conflict(`Container ${id} is already running`);
    const run = readJson<RunInfo>(join(p.stateDir, 'run.json'));
    if (run?.startedAt) await this.reportExit(id); // the previous exit is reported before a new run starts
    // created, never started (a create job redelivered after a crash): nothing will ever exit by itself
    if (st?.status === 'created') await cgroup.kill(p.cgroup, 9).catch(() => undefined);
    await this.shutdownExecs(p);
    if (st) await this.shutdownShim(client, run?.shimPid ?? st.shimPid);
    await removeCgroup(p.cgroup).catch(() => undefined);
    rmSync(p.stateDir, { recursive: true, force: true });
  }

  // ── exit watching ───────────────────────────────────────────────────────────────────────────

  /**
   * Subscribes to the shim's exit (pushed over control.sock; at once if it already happened) and
   * reports it once. If the shim is gone, exit.json tells; if that is missing too, the shim was lost.
   * Takes no lock: create/remove (which hold it) await the same promise.
   */
  private reportExit(id: string): Promise<void> {
    const p = this.paths(id);
    const key = p.stateDir;
    let r = this.reporting.get(key);
    if (r) return r;
    r = (async () => {
      const run = await readJsonAsync<RunInfo>(join(p.stateDir, 'run.json'));
      if (!run?.startedAt || (await exists(join(p.stateDir, 'reported')))) return;
      const client = new ShimClient(p.stateDir);
      let exit: ShimExit | null = null;
      try {
        exit = await client.subscribeExit();
      } catch {
        exit = client.readExitFile();
      }
      this.live.delete(id);
      if (this.closed || !(await exists(p.stateDir))) return;
      const startedAt = run.startedAt;
      if (exit) {
        if (exit.oomKilled) await this.publish(ContainerObservation.Oom, id, `${id}:oom:${startedAt}:1`, { startedAt });
        await this.publish(ContainerObservation.Exited, id, `${id}:exited:${startedAt}`, {
          pid: exit.pid, exitCode: exit.exitCode, signal: exit.signal, exitedAt: exit.exitedAt, oomKilled: exit.oomKilled, startedAt,
        });
      } else {
        await this.publish(ContainerObservation.ShimLost, id, `${id}:shim-lost:${startedAt}`, { pid: run.pid, startedAt });
      }
      await writeFile(join(p.stateDir, 'reported'), startedAt);
    })().finally(() => this.reporting.delete(key));
    this.reporting.set(key, r);
    return r;
  }

  /** reportExit, then free the shim (exit.json stays) and the cgroup, unless a new run took over. */
  watch(id: string): Promise<void> {
    const p = this.paths(id);
    const key = p.stateDir;
    let w = this.watching.get(key);
    if (w) return w;
    w = (async () => {
      const run = readJson<RunInfo>(join(p.stateDir, 'run.json'));
      if (!run?.startedAt) return;
      await this.reportExit(id);
      if (this.closed) return;
      await this.lock(id, async () => {
        const now = readJson<RunInfo>(join(p.stateDir, 'run.json'));
        if (now?.startedAt !== run.startedAt || !existsSync(join(p.stateDir, 'reported'))) return;
        await this.shutdownExecs(p);
        await this.shutdownShim(new ShimClient(p.stateDir), run.shimPid);
        if (await removeCgroup(p.cgroup).then(() => true, () => false)) this.tornDown.add(id);
      });
    })()
      .catch((e) => this.logger.warn(`watch ${id}: ${(e as Error).message} (reconcile retries)`))
      .finally(() => this.watching.delete(key));
    this.watching.set(key, w);
    return w;
  }

  /** `started`: the run this process just started (nothing to read, nothing reported yet). */
  private watchExec(containerId: string, execDir: string, started?: RunInfo): Promise<void> {
    let w = this.watching.get(execDir);
    if (w) return w;
    w = (async () => {
      const run = started ?? (await readJsonAsync<RunInfo>(join(execDir, 'run.json')));
      if (!run?.startedAt || !run.execId) return;
      if (!started && (await exists(join(execDir, 'reported')))) return;
      const client = new ShimClient(execDir);
      let exit: ShimExit | null = null;
      try {
        exit = await client.subscribeExit();
      } catch {
        exit = client.readExitFile();
      }
      if (this.closed || !(await exists(execDir))) return;
      await this.publish(ContainerObservation.ExecExited, containerId, `${containerId}:exec:${run.execId}:exited`, {
        execId: run.execId,
        exitCode: exit?.exitCode ?? 137,
        exitedAt: exit?.exitedAt ?? new Date().toISOString(),
      });
      await writeFile(join(execDir, 'reported'), run.startedAt);
      await this.shutdownShim(client, run.shimPid);
    })()
      .catch((e) => this.logger.warn(`watch exec ${execDir}: ${(e as Error).message}`))
      .finally(() => this.watching.delete(execDir));
    this.watching.set(execDir, w);
    return w;
  }

  private async shutdownShim(client: ShimClient, shimPid: number) {
    try {
      await client.shutdown();
    } catch {
      /* already gone */
    }
    if (shimPid && !(await waitGone(shimPid, 5000))) {
      this.logger.warn(`shim ${shimPid} (${client.stateDir}) did not exit after shutdown: killing it`);
      try {
        process.kill(shimPid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitGone(shimPid, 2000);
    }
  }

  private execDirs(p: ContainerPaths): string[] {
    try {
      return readdirSync(p.stateDir)
        .filter((n) => n.startsWith('e'))
        .map((n) => join(p.stateDir, n))
        .filter((d) => statSync(d).isDirectory());
    } catch {
      return [];
    }
  }

  private async shutdownExecs(p: ContainerPaths) {
    await Promise.all(
      this.execDirs(p).map(async (d) => {
        this.execsCreated.delete(d);
        const run = readJson<RunInfo>(join(d, 'run.json'));
        const client = new ShimClient(d);
        if (existsSync(client.controlPath)) {
          await client.signal(9).catch(() => undefined);
          await this.shutdownShim(client, run?.shimPid ?? 0);
        }
      }),
    );
  }

  // ── signals, stop, pause, update ─────────────────────────────────────────────────────────────

  private async runningClient(id: string) {
    const p = this.paths(id);
    if (!existsSync(p.dir)) throw notFound(`No such container: ${id}`);
    const client = new ShimClient(p.stateDir);
    const st = await client.state().catch(() => null);
    if (!st || st.status !== 'running') throw conflict(`Container ${id} is not running`);
    return { p, client, st };
  }

  async signal({ id, signal }: { id: string; signal: string | number }) {
    const n = signalNumber(signal);
    const { client } = await this.runningClient(id);
    await client.signal(n).catch((e) => {
      throw domainError(e, id);
    });
    return { ok: true as const };
  }

  async stop({ id, signal, timeoutSeconds }: ContainerStopPayload) {
    const p = this.paths(id);
    if (!existsSync(p.dir)) throw notFound(`No such container: ${id}`);
    const client = new ShimClient(p.stateDir);
    const st = await client.state().catch(() => null);
    if (!st || st.status !== 'running') {
      const exit = client.readExitFile();
      if (exit) return { exitCode: exit.exitCode, killed: false, exitedAt: exit.exitedAt };
      throw conflict(`Container ${id} is not running`);
    }
    const exited = client.subscribeExit();
    exited.catch(() => undefined);
    const paused = existsSync(join(p.stateDir, 'paused'));
    const timeout = timeoutSeconds ?? 10;
    let killed = false;
    if (timeout !== 0) {
      await client.signal(signalNumber(signal)).catch(() => undefined);
      if (paused) await this.thaw(p);
    }
    if (timeout >= 0) {
      const done = await Promise.race([
        exited.then(() => true, () => true),
        new Promise<false>((r) => setTimeout(() => r(false), timeout * 1000).unref()),
      ]);
      if (!done) {
        killed = true;
        await cgroup.kill(p.cgroup, 9).catch(() => client.signal(9).catch(() => undefined));
        if (paused) await this.thaw(p);
      }
    }
    let exit: ShimExit | null;
    try {
      exit = await exited;
    } catch {
      exit = client.readExitFile();
    }
    if (!exit) throw new DomainError(ErrorCode.Internal, `Container ${id}: shim lost while stopping`);
    return { exitCode: exit.exitCode, killed, exitedAt: exit.exitedAt };
  }

  private async thaw(p: ContainerPaths) {
    await cgroup.thaw(p.cgroup).catch(() => undefined);
    rmSync(join(p.stateDir, 'paused'), { force: true });
  }

  async pause({ id }: { id: string }) {
    const { p } = await this.runningClient(id);
    if (existsSync(join(p.stateDir, 'paused'))) throw conflict(`Container ${id} is already paused`);
    await cgroup.freeze(p.cgroup).catch((e) => {
      throw domainError(e, id);
    });
    writeFileSync(join(p.stateDir, 'paused'), new Date().toISOString());
    return { ok: true as const };
  }

  async unpause({ id }: { id: string }) {
    const { p } = await this.runningClient(id);
    if (!existsSync(join(p.stateDir, 'paused'))) throw conflict(`Container ${id} is not paused`);
    await cgroup.thaw(p.cgroup).catch((e) => {
      throw domainError(e, id);
    });
    rmSync(join(p.stateDir, 'paused'), { force: true });
    return { ok: true as const };
  }

  async update({ id, resources }: { id: string; resources: ContainerResources }) {
    const { p } = await this.runningClient(id);
    const file = join(p.stateDir, 'resources.json');
    writeFileSync(file, JSON.stringify(ociResources(resources, false)));
    try {
      const r = await cgroup.update(p.cgroup, file);
      return { warnings: r.warnings ?? [] };
    } catch (e) {
      throw domainError(e, id);
    } finally {
      rmSync(file, { force: true });
    }
  }

  async resize({ id, h, w }: { id: string; h: number; w: number }) {
    const { client } = await this.runningClient(id).catch(async (e) => {
      // resizing a created (not yet started) container's tty is allowed
      const p = this.paths(id);
      const client = new ShimClient(p.stateDir);
      const st = await client.state().catch(() => null);
      if (st?.status === 'created') return { client };
      throw e;
    });
    await client.resize(h, w).catch((e) => {
      throw domainError(e, id);
    });
    return { ok: true as const };
  }

  async closeStdin({ id }: { id: string }) {
    const { client } = await this.runningClient(id);
    await client.closeStdin().catch((e) => {
      throw domainError(e, id);
    });
    return { ok: true as const };
  }

  // ── state, stats, top ───────────────────────────────────────────────────────────────────────

  async state({ id }: { id: string }): Promise<ContainerRuntimeState> {
    const p = this.paths(id);
    const none: ContainerRuntimeState = {
      status: 'absent', pid: 0, shimPid: 0, startedAt: null, exitCode: null, exitedAt: null, oomKilled: false,
    };
    if (!existsSync(p.dir)) return none;
    const run = readJson<RunInfo>(join(p.stateDir, 'run.json'));
    const client = new ShimClient(p.stateDir);
    const st = await client.state().catch(() => null);
    if (st) {
      const status = st.status === 'creating' || st.status === 'created' ? 'created' : st.status;
      return {
        status: status === 'running' && existsSync(join(p.stateDir, 'paused')) ? 'paused' : status,
        pid: st.pid, shimPid: st.shimPid, startedAt: st.startedAt ?? run?.startedAt ?? null,
        exitCode: st.exitCode, exitedAt: st.exitedAt, oomKilled: st.oomKilled,
      };
    }
    const exit = client.readExitFile();
    if (exit) {
      return {
        status: 'exited', pid: 0, shimPid: 0, startedAt: run?.startedAt ?? null,
        exitCode: exit.exitCode, exitedAt: exit.exitedAt, oomKilled: exit.oomKilled,
      };
    }
    if (run) return { ...none, status: 'exited', startedAt: run.startedAt ?? null, exitCode: run.startedAt ? 137 : null };
    return { ...none, status: 'prepared' };
  }

  async stats({ id }: { id: string }): Promise<ContainerStatsResult> {
    const { p, st } = await this.runningClient(id);
    const s = await cgroup.stats(p.cgroup, st.pid).catch((e) => {
      throw domainError(e, id);
    });
    const blk = (k: string) => (s.blkio[k]?.length ? s.blkio[k]! : null);
    const net: ContainerStatsResult['networks'] = {};
    for (const [name, v] of Object.entries(s.network ?? {})) {
      if (name === 'lo') continue;
      net[name] = {
        rx_bytes: v.rx_bytes ?? 0, rx_packets: v.rx_packets ?? 0, rx_errors: v.rx_errors ?? 0, rx_dropped: v.rx_dropped ?? 0,
        tx_bytes: v.tx_bytes ?? 0, tx_packets: v.tx_packets ?? 0, tx_errors: v.tx_errors ?? 0, tx_dropped: v.tx_dropped ?? 0,
      };
    }
    return {
      read: new Date().toISOString(),
      pids_stats: { current: s.pids.current, ...(s.pids.limit ? { limit: s.pids.limit } : {}) },
      cpu_stats: {
        cpu_usage: {
          total_usage: s.cpu.usage_total,
          percpu_usage: s.cpu.usage_percpu,
          usage_in_kernelmode: s.cpu.usage_system,
          usage_in_usermode: s.cpu.usage_user,
        },
        system_cpu_usage: systemCpuUsage(),
        online_cpus: cpus().length,
        throttling_data: s.cpu.throttling,
      },
      memory_stats: {
        usage: s.memory.usage,
        max_usage: s.memory.max_usage,
        // moby: no limit (v1's huge number) is reported as the machine's memory
        limit: s.memory.limit > 0 && s.memory.limit < totalmem() ? s.memory.limit : totalmem(),
        failcnt: s.memory.failcnt,
        stats: s.memory.stats,
      },
      blkio_stats: {
        io_service_bytes_recursive: blk('io_service_bytes_recursive'),
        io_serviced_recursive: blk('io_serviced_recursive'),
        io_queue_recursive: null,
        io_service_time_recursive: null,
        io_wait_time_recursive: null,
        io_merged_recursive: null,
        io_time_recursive: null,
        sectors_recursive: null,
      },
      networks: net,
    };
  }

  /** Docker's way: `ps <psArgs>` on the host, rows filtered to the pids in the container's cgroup. */
  async top({ id, psArgs }: { id: string; psArgs?: string }) {
    const { p } = await this.runningClient(id);
    const pids = new Set(listCgroupPids(p.cgroup));
    const args = (psArgs?.trim() || '-ef').split(/\s+/);
    let stdout: string;
    try {
      ({ stdout } = await execFileAsync('ps', args, { maxBuffer: 64 * 1024 * 1024 }));
    } catch (e) {
      throw new DomainError(ErrorCode.Internal, `ps: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
    const lines = stdout.split('\n').filter((l) => l.trim());
    const Titles = (lines[0] ?? '').trim().split(/\s+/);
    const pidIndex = Titles.indexOf('PID');
    if (pidIndex < 0) throw invalid(`Couldn't find PID field in ps output`);
    const Processes: string[][] = [];
    for (const line of lines.slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (!pids.has(Number(fields[pidIndex]))) continue;
      Processes.push([...fields.slice(0, Titles.length - 1), fields.slice(Titles.length - 1).join(' ')]);
    }
    return { Titles, Processes };
  }

  // ── exec ────────────────────────────────────────────────────────────────────────────────────

  async execCreate({ containerId, execId, process: proc, privileged, captureOutput }: ExecCreatePayload) {
    // A container this process started and has not seen exit needs no question to its shim (a round
    // trip on the control socket, ms on a busy machine); the state files are read synchronously on a
    // tmpfs (µs; the thread pool's round trips were 2 ms of every exec create).
    const pid = this.live.get(containerId);
    const { p, st } = pid ? { p: this.paths(containerId), st: { pid } } : await this.runningClient(containerId);
    const x = p.exec(execId);
    const [paused, taken, container] = await Promise.all([
      this.stateExists(join(p.stateDir, 'paused')),
      this.stateExists(x.stateDir),
      this.readState<RunConfig>(p.configJson).then((c) => c ?? readJsonAsync<RunConfig>(p.legacyConfigJson)),
    ]);
    if (paused) throw conflict(`Container ${containerId} is paused, unpause the container before exec`);
    if (taken) throw conflict(`exec ${execId} already exists`);
    if (!container) throw new DomainError(ErrorCode.Internal, `container ${containerId}: config.json missing`);
    const caps = privileged ? capabilitySet({ privileged: true }) : (container.process.capabilities as { bounding: string[] }).bounding;
    const user: Record<string, unknown> = proc.user ? { username: proc.user } : { uid: 0, gid: 0 };
    if (proc.additionalGids?.length) user.additionalGids = proc.additionalGids;
    const env = [...proc.env];
    if (proc.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const spec = {
      process: {
        args: proc.args,
        env,
        cwd: proc.cwd || '/',
        terminal: !!proc.tty,
        user,
        capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
        rlimits: container.process.rlimits ?? [],
        noNewPrivileges: !!container.process.noNewPrivileges,
      },
      seccomp: privileged ? null : container.linux.seccomp,
      privileged: !!privileged,
    };
    await this.makeStateDir(x.stateDir);
    await this.writeState(x.json, JSON.stringify(spec));
    try {
      const ready = await spawnShim({
        id: execId,
        stateDir: x.stateDir,
        logPath: captureOutput ? join(x.stateDir, 'output.log') : '/dev/null',
        initExec: { pid: st.pid, specPath: x.json },
        tty: proc.tty,
        openStdin: proc.openStdin,
        stdinOnce: proc.stdinOnce,
      });
      const run: RunInfo = { kind: 'exec', containerId, execId, pid: ready.pid, shimPid: ready.shimPid };
      await this.writeState(join(x.stateDir, 'run.json'), JSON.stringify(run));
      this.execsCreated.set(x.stateDir, run);
      return ready;
    } catch (e) {
      await rm(x.stateDir, { recursive: true, force: true });
      throw domainError(e, containerId);
    }
  }

  async execStart({ containerId, execId }: { containerId: string; execId: string }) {
    const x = this.paths(containerId).exec(execId);
    const cached = this.execsCreated.get(x.stateDir);
    this.execsCreated.delete(x.stateDir);
    const run = cached ?? (await this.readState<RunInfo>(join(x.stateDir, 'run.json')));
    if (!run) throw notFound(`No such exec instance: ${execId}`);
    let started: { pid: number; startedAt: string };
    try {
      started = await this.startThroughShim(x.stateDir, run, () => void this.watchExec(containerId, x.stateDir, run));
    } catch (e) {
      throw domainError(e, containerId);
    }
    void this.publish(ContainerObservation.ExecStarted, containerId, `${containerId}:exec:${execId}:started`, {
      execId, pid: started.pid, startedAt: started.startedAt,
    }).catch((e) => this.logger.warn(`publish exec started: ${(e as Error).message}`));
    void this.watchExec(containerId, x.stateDir, run);
    return started;
  }

  async execResize({ containerId, execId, h, w }: { containerId: string; execId: string; h: number; w: number }) {
    const x = this.paths(containerId).exec(execId);
    if (!existsSync(x.stateDir)) throw notFound(`No such exec instance: ${execId}`);
    await new ShimClient(x.stateDir).resize(h, w).catch((e) => {
      throw domainError(e, containerId);
    });
    return { ok: true as const };
  }

  async execState({ containerId, execId }: { containerId: string; execId: string }): Promise<ExecRuntimeState> {
    const x = this.paths(containerId).exec(execId);
    if (!existsSync(x.stateDir)) return { status: 'absent', pid: 0, exitCode: null };
    const client = new ShimClient(x.stateDir);
    const st = await client.state().catch(() => null);
    if (st) {
      const status = st.status === 'creating' || st.status === 'created' ? 'created' : st.status;
      return { status, pid: st.pid, exitCode: st.exitCode };
    }
    const exit = client.readExitFile();
    return { status: 'exited', pid: exit?.pid ?? 0, exitCode: exit?.exitCode ?? null };
  }

  /**
   * Waits for the exec's exit up to timeoutMs; past it, SIGKILL when asked (a health check's timeout
   * kills the check). output: what a captureOutput exec wrote (json-file lines joined), 4096 bytes at most.
   */
  async execWait({ containerId, execId, timeoutMs, killOnTimeout }: { containerId: string; execId: string; timeoutMs: number; killOnTimeout?: boolean }) {
    const x = this.paths(containerId).exec(execId);
    if (!existsSync(x.stateDir)) throw notFound(`No such exec instance: ${execId}`);
    const client = new ShimClient(x.stateDir);
    const exited = client.subscribeExit().catch(() => client.readExitFile());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, timeoutMs))));
    let exit = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    let timedOut = false;
    if (exit === 'timeout') {
      timedOut = true;
      if (killOnTimeout) {
        await client.signal(9).catch(() => undefined);
        exit = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 5000).unref())]);
      } else exit = null;
    }
    let output = '';
    try {
      for (const line of (await readFile(join(x.stateDir, 'output.log'), 'utf8')).split('\n')) {
        if (!line) continue;
        output += (JSON.parse(line) as { log: string }).log;
        if (Buffer.byteLength(output) >= 4096) break;
      }
    } catch {
      /* no captured output */
    }
    const bytes = Buffer.from(output);
    if (bytes.length > 4096) output = bytes.subarray(0, 4096).toString('utf8');
    // A captured-output exec (health check) leaves nothing behind once its exit is reported.
    if (exit && existsSync(join(x.stateDir, 'output.log'))) {
      const w = this.watching.get(x.stateDir);
      if (w) await Promise.race([w, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (existsSync(join(x.stateDir, 'reported'))) rmSync(x.stateDir, { recursive: true, force: true });
    }
    return { exitCode: exit ? exit.exitCode : null, timedOut, output, exitedAt: exit ? exit.exitedAt : null };
  }

  // ── remove ──────────────────────────────────────────────────────────────────────────────────

  remove({ id }: { id: string }) {
    return this.lock(id, async () => {
      const p = this.paths(id);
      this.fresh.delete(id);
      this.created.delete(id);
      this.live.delete(id);
      if (!existsSync(p.dir) && !existsSync(p.stateDir)) return { removed: false };
      // The exit watch already took the run down (execs, shim, cgroups): its files are what is left.
      if (this.tornDown.delete(id)) {
        unmountUnder(p.dir);
        this.discard(p.stateDir);
        this.discard(p.dir);
        return { removed: true };
      }
      await this.shutdownExecs(p);
      const client = new ShimClient(p.stateDir);
      const run = readJson<RunInfo>(join(p.stateDir, 'run.json'));
      const st = await client.state().catch(() => null);
      if (st) {
        if (st.status !== 'exited') {
          await cgroup.kill(p.cgroup, 9).catch(() => undefined);
          await cgroup.thaw(p.cgroup).catch(() => undefined);
          await client.signal(9).catch(() => undefined);
        }
        // a started run's exit is still reported (the service sees die before destroy)
        if (run?.startedAt) await Promise.race([this.reportExit(id).catch(() => undefined), new Promise((r) => setTimeout(r, 15000).unref())]);
        await this.shutdownShim(client, run?.shimPid ?? st.shimPid);
      } else if (run?.shimPid && alive(run.shimPid) && isShim(run.shimPid)) {
        process.kill(run.shimPid, 'SIGKILL');
      }
      // Usually gone already (the exit watch removes it); the remove command is a process spawn.
      await removeCgroup(p.cgroup).catch(() => undefined);
      unmountUnder(p.dir);
      // Renamed out of the way at once (the id is free again), deleted after the reply: a recursive
      // delete costs tens of ms here. What a crash leaves in trash/ the next reconcile deletes.
      this.discard(p.stateDir);
      this.discard(p.dir);
      return { removed: true };
    });
  }

  /**
   * Every container with files here (`<data-root>/containers/<id>`) or a shim state dir, and how long
   * ago its newest one changed: the containers service removes those its model no longer has (a
   * removal whose runtime part failed after it was recorded).
   */
  list(): { containers: { id: string; ageMs: number }[] } {
    const newest = new Map<string, number>();
    const seen = (id: string, dir: string) => newest.set(id, Math.max(newest.get(id) ?? 0, statMs(dir)));
    const root = join(this.dataRoot, 'containers');
    for (const id of safeReaddir(root)) if (/^[0-9a-f]{64}$/.test(id)) seen(id, join(root, id));
    for (const name of safeReaddir(this.stateRoot)) {
      const id = readJson<RunInfo>(join(this.stateRoot, name, 'run.json'))?.containerId;
      if (id) seen(id, join(this.stateRoot, name));
    }
    const now = Date.now();
    return { containers: [...newest].map(([id, ms]) => ({ id, ageMs: Math.max(0, now - ms) })) };
  }

  private get trashDir() {
    return join(this.dataRoot, 'trash');
  }

  /** Moves `dir` into trash/ (same filesystem) and deletes it in the background; falls back to deleting in place. */
  private discard(dir: string): void {
    if (!existsSync(dir)) return;
    if (lstatSync(dir).isSymbolicLink()) {
      // a legacy state dir linked in (linkLegacyStateDirs): the link, then the dir itself
      const real = realpathSync(dir);
      unlinkSync(dir);
      this.discard(real);
      return;
    }
    const target = join(this.trashDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(this.trashDir, { recursive: true, mode: 0o700 });
      renameSync(dir, target);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    void rm(target, { recursive: true, force: true }).catch((e: Error) => this.logger.warn(`delete ${target}: ${e.message} (reconcile retries)`));
  }

  // ── reconcile ───────────────────────────────────────────────────────────────────────────────

  /** Re-attach to every shim, report missed exits, and clear what no container claims. */
  async reconcile(): Promise<{ watched: number; orphans: string[] }> {
    const orphans: string[] = [];
    const stateRoot = this.stateRoot;
    // Removed containers' dirs whose background delete a crash interrupted.
    for (const t of safeReaddir(this.trashDir)) await rm(join(this.trashDir, t), { recursive: true, force: true }).catch(() => undefined);
    const known = new Set<string>();
    let watched = 0;
    for (const name of safeReaddir(stateRoot)) {
      const dir = join(stateRoot, name);
      const run = readJson<RunInfo>(join(dir, 'run.json'));
      const id = run?.containerId;
      if (id && existsSync(containerPaths(this.dataRoot, this.execRoot, id).dir)) {
        known.add(id);
        if (run.startedAt && !existsSync(join(dir, 'reported'))) {
          watched++;
          void this.watch(id);
        }
        for (const x of this.execDirs(containerPaths(this.dataRoot, this.execRoot, id))) {
          const xr = readJson<RunInfo>(join(x, 'run.json'));
          if (xr?.startedAt && !existsSync(join(x, 'reported'))) void this.watchExec(id, x);
          else if (xr?.startedAt && xr.shimPid && alive(xr.shimPid) && existsSync(join(x, 'exit.json'))) {
            await this.shutdownShim(new ShimClient(x), xr.shimPid);
          }
        }
        continue;
      }
      // No container dir claims this state dir. Give a create in progress a minute.
      if (!run && Date.now() - statMs(dir) < 60_000) continue;
      const shim = readJson<{ shimPid: number; pid: number }>(join(dir, 'shim.json'));
      for (const pid of [shim?.shimPid, run?.shimPid]) if (pid && alive(pid) && isShim(pid)) process.kill(pid, 'SIGKILL');
      if (id) await removeCgroup(`berth/${id}`).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      orphans.push(`state-dir:${dir}`);
      await this.publishOrphan(id ?? name, 'state-dir', dir);
    }
    for (const d of safeReaddir(join(this.dataRoot, 'containers'))) known.add(d);

    // Shims started from this data root whose state dir is gone.
    for (const { pid, stateDir } of listShims(stateRoot)) {
      if (existsSync(stateDir)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
      orphans.push(`shim:${pid}`);
      await this.publishOrphan(stateDir.split('/').pop()!, 'shim', stateDir);
    }

    // Cgroups under berth/ that no container of ours claims.
    for (const name of listBerthCgroups()) {
      if (known.has(name)) continue;
      const path = `berth/${name}`;
      const pids = listCgroupPids(path);
      const ours = pids.length > 0 && pids.every((pid) => ancestorShimStateDir(pid)?.startsWith(stateRoot + '/'));
      // Another node's executor (tests run several on one machine) may have just made this group.
      const old = pids.length === 0 && Date.now() - cgroupMtime(name) > 30_000;
      if (!ours && !old) continue;
      await removeCgroup(path).catch((e) => this.logger.warn(`reconcile: cgroup remove ${path}: ${(e as Error).message}`));
      orphans.push(`cgroup:${path}`);
      await this.publishOrphan(name, 'cgroup', path);
    }

    // Mounts under our dirs with no container behind them.
    for (const m of listMountsUnder(this.dataRoot + '/')) {
      const rel = m.slice(this.dataRoot.length + 1).split('/');
      const id = rel[0] === 'containers' ? rel[1] : undefined;
      if (id && existsSync(containerPaths(this.dataRoot, this.execRoot, id).dir)) continue;
      if (rel[0] !== 'containers') continue;
      try {
        await execFileAsync('umount', ['-l', m]);
        orphans.push(`mount:${m}`);
        await this.publishOrphan(id ?? m, 'mount', m);
      } catch (e) {
        this.logger.warn(`reconcile: umount ${m}: ${(e as Error).message}`);
      }
    }
    if (orphans.length) this.logger.log(`reconcile: removed ${orphans.join(', ')}`);
    return { watched, orphans };
  }

  private publishOrphan(subject: string, what: 'cgroup' | 'mount' | 'shim' | 'state-dir', path: string) {
    const observedAt = new Date().toISOString();
    return this.publish(ContainerObservation.OrphanRemoved, subject, `${subject}:orphan:${what}:${observedAt}`, { what, path }).catch(
      () => undefined,
    );
  }

  /** Stops watching; shims and containers keep running (live restore). */
  async close() {
    this.closed = true;
    this.blanks.close();
  }
}

export type { ExecutorObservation };

function statMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function systemCpuUsage(): number {
  // Docker: sum of the first /proc/stat line in ns (USER_HZ is 100 on Linux)
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * 1e7;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function isShim(pid: number): boolean {
  return (cmdline(pid)[0] ?? '').endsWith('berth-shim');
}

function shimStateDir(pid: number): string | null {
  const a = cmdline(pid);
  if (!(a[0] ?? '').endsWith('berth-shim')) return null;
  const i = a.indexOf('--state-dir');
  return i >= 0 ? (a[i + 1] ?? null) : null;
}

function listShims(stateRoot: string): { pid: number; stateDir: string }[] {
  const out: { pid: number; stateDir: string }[] = [];
  for (const n of safeReaddir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const dir = shimStateDir(Number(n));
    if (dir?.startsWith(stateRoot + '/')) out.push({ pid: Number(n), stateDir: dir });
  }
  return out;
}

function ppid(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function ancestorShimStateDir(pid: number): string | null {
  for (let p = pid, n = 0; p > 1 && n < 16; p = ppid(p), n++) {
    const d = shimStateDir(p);
    if (d) return d;
  }
  return null;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * rmdir of the group in every hierarchy (v1) or the one (v2), in the thread pool: an empty group goes
 * without a berth-init spawn. When a directory stays (processes or child groups left), berth-init's
 * remove (kill, drain, recurse) does the rest.
 */
async function removeCgroup(path: string): Promise<void> {
  const dirs = [join(CGROUP_ROOT, path), ...safeReaddir(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h, path))];
  const gone = await Promise.all(
    dirs.map((d) => rmdir(d).then(() => true, (e: NodeJS.ErrnoException) => e.code === 'ENOENT' || e.code === 'ENOTDIR')),
  );
  if (!gone.every(Boolean)) await cgroup.remove(path);
}

function listBerthCgroups(): string[] {
  const names = new Set<string>();
  for (const h of safeReaddir(CGROUP_ROOT)) {
    for (const n of safeReaddir(join(CGROUP_ROOT, h, 'berth'))) if (statIsDir(join(CGROUP_ROOT, h, 'berth', n))) names.add(n);
  }
  for (const n of safeReaddir(join(CGROUP_ROOT, 'berth'))) if (statIsDir(join(CGROUP_ROOT, 'berth', n))) names.add(n);
  return [...names];
}

function cgroupMtime(name: string): number {
  let newest = 0;
  for (const h of safeReaddir(CGROUP_ROOT)) newest = Math.max(newest, statMs(join(CGROUP_ROOT, h, 'berth', name)));
  return Math.max(newest, statMs(join(CGROUP_ROOT, 'berth', name)));
}

function statIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function unescapeMount(s: string) {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function listMountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => unescapeMount(l.split(' ')[1] ?? ''))
    .filter((m) => m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string) {
  for (const m of listMountsUnder(dir + '/')) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      /* best effort; reconcile retries */
    }
  }
}
