import {
  type Actor,
  type AttachReply,
  conflict,
  containerPaths,
  type ContainerEvent,
  type ContainerRuntimeSpec,
  type ContainerView,
  type CreateContainerReply,
  type CreateContainerRequest,
  DomainError,
  ErrorCode,
  type ExecCreateReply,
  type ExecCreateRequest,
  type ExecPrepareAnswer,
  type ExecView,
  invalid,
  type KillContainerRequest,
  type NetworkEndpoint,
  type LeaseRecord,
  type ListContainersRequest,
  notFound,
  type PruneContainersReply,
  type PruneContainersRequest,
  type RemoveContainerRequest,
  type StopContainerRequest,
  SYSTEM_ACTOR,
  type UpdateContainerRequest,
  type WaitContainerReply,
  type WaitContainerRequest,
  type CancelWaitsRequest,
} from '@berth/contracts';
import type { BerthConfig } from '@berth/config';
import { RecentMap } from '@berth/messaging';
import { BERTH_CONFIG } from '@berth/service-kit';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { matchContainer } from './container-filters';
import { generateName } from './names';
import { anonymousVolumeTargets, endpointsConfigOf, mergeEnv, normalizeCreate, primaryNetworkOf, resourcesOf, runtimeSpecOf } from './container-spec';
import { type ContainerCommand, type ContainerState, evolve, validateContainerName } from './container.decider';
import { ContainerRegistry } from './container.registry';
import { toContainerView } from './container-view';
import { NetworkAdapter } from './network.adapter';
import { RuntimeAdapter } from './runtime.adapter';
import { VolumeAdapter } from './volume.adapter';

const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none']);

/** How long one wait long poll lasts before it answers `pending` (the gateway asks again). */
const WAIT_POLL_MS = 5 * 60_000;
/** none/host leases are recorded this long after the start or removal that queued them (see queueLease). */
const LEASE_DELAY_MS = 30;

/** A long poll's answer when it ended without its condition (timed out, cancelled): the gateway may ask again. */
const WAIT_PENDING: WaitContainerReply = { statusCode: -1, error: null, pending: true };
/**
 * How long a waitId cancelled before its wait arrived, and a removed container's last exit for a wait
 * that arrives after the removal, are remembered (the newest 1000 of each): a wait in flight arrives
 * within it; a `docker wait` on a container removed before it is a 404, as with dockerd.
 */
const RECENT_MS = 60_000;
/** A runtime the model does not know is swept at boot only when nothing touched it for this long. */
const RUNTIME_SWEEP_MIN_AGE_MS = 60_000;

/** The container as the events of one commit left it just before its removal (the exit and its --rm removal can be one commit). */
function beforeRemoval(events: readonly ContainerEvent[], before: ContainerState): ContainerState {
  return events.filter((e) => e.type !== 'ContainerRemoved').reduce(evolve, before) ?? before;
}

/**
 * Container use cases: check the rules, drive the executor, record the facts. Runtime facts the
 * executor reports on its own (exits, OOM kills) arrive through ObservationsConsumer -> onExited.
 */
@Injectable()
export class ContainersService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('containers');
  /** containers whose shim for the next run exists or is spawning (created, waiting for start) -> its init's pid */
  private readonly shimReady = new Map<string, Promise<number>>();
  /** none/host leases waiting for the next flush, by container (see queueLease) */
  private readonly pendingLeases = new Map<string, LeaseRecord>();
  private leaseTimer?: NodeJS.Timeout;
  /** the last flush of pendingLeases (flushes are chained) */
  private leasesRecorded: Promise<void> = Promise.resolve();
  /** none/host containers whose lease this process has recorded (or is recording) */
  private readonly leased = new Set<string>();
  /** exits being auto-removed (runtime first, then one commit): a second report of the same exit waits */
  private readonly autoRemoving = new Map<string, Promise<void>>();
  /** user-driven stops in flight: their exit must not trigger the restart policy */
  private readonly stopping = new Set<string>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** starts in flight: an exit observed before its start is recorded waits for it (else it would be dropped) */
  private readonly starting = new Map<string, Promise<void>>();
  /** the network teardown of the last recorded exit: a second report of that exit (stop + observation) waits for it */
  private readonly networkDown = new Map<string, Promise<void>>();
  /** full id -> the last exit of containers removed lately */
  private readonly recentlyRemoved = new RecentMap<WaitContainerReply>(RECENT_MS);
  /** the long polls a `waitCancel` can end, by the gateway's waitId */
  private readonly waits = new Map<string, (reply: WaitContainerReply) => void>();
  /** waitIds cancelled before their wait arrived */
  private readonly cancelledWaits = new RecentMap<true>(RECENT_MS);
  /**
   * exec id -> its shim spawning since exec create: the pid its process has while it waits before
   * execve (exec start's prepare waits for it, its run records it and takes the entry)
   */
  private readonly execReady = new Map<string, Promise<number>>();
  /** runtimes of removed containers being removed in the background (shutdown waits for them) */
  private readonly runtimeRemovals = new Set<Promise<unknown>>();

  constructor(
    private readonly registry: ContainerRegistry,
    private readonly runtime: RuntimeAdapter,
    private readonly network: NetworkAdapter,
    private readonly volumes: VolumeAdapter,
    @Inject(BERTH_CONFIG) private readonly config: BerthConfig,
  ) {
    // Exec shims spawned at exec create and never started go with the run (the executor shuts them
    // down when the container stops): their entries go too.
    this.registry.onChange((state, _events, before) => {
      if (this.execReady.size === 0 || !before || (state && (state.status === 'running' || state.status === 'paused'))) return;
      for (const execId of Object.keys(before.execs)) this.execReady.delete(execId);
    });
    // A wait that reaches the service after the removal it waits for (a quick `run --rm`) answers from here.
    this.registry.onChange((state, events, before) => {
      if (state || !before || !events.some((e) => e.type === 'ContainerRemoved')) return;
      const last = beforeRemoval(events, before);
      this.recentlyRemoved.put(before.id, { statusCode: last.exitCode, error: null });
    });
  }

  private paths(id: string) {
    return containerPaths(this.config['data-root'], this.config['exec-root'], id);
  }

  // ---- reads -------------------------------------------------------------------------------------

  inspect(ref: string): ContainerView {
    return toContainerView(this.registry.resolve(ref));
  }

  list(req: ListContainersRequest): ContainerView[] {
    const filters = req.filters ?? {};
    const all = this.registry.all().sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    const byRef = (ref: string) => this.registry.find(ref);
    let out = all.filter((c) => matchContainer(c, filters, byRef));
    if (!req.all && !(req.limit && req.limit > 0) && !filters.status && !filters.exited) {
      out = out.filter((c) => c.status === 'running' || c.status === 'paused' || c.status === 'restarting');
    }
    if (req.limit && req.limit > 0) out = out.slice(0, req.limit);
    return out.map(toContainerView);
  }

  // ---- create ------------------------------------------------------------------------------------

  async create(req: CreateContainerRequest, actor: Actor | null = null): Promise<CreateContainerReply> {
    const id = randomBytes(32).toString('hex');
    let name = (req.name ?? '').replace(/^\//, '');
    if (!name) {
      do name = generateName();
      while (this.registry.nameTaken(name));
    }
    validateContainerName(name);
    // Anonymous volumes (`-v /data`, image VOLUMEs): named here, created once the spec is known to be valid.
    const anonymousAt: Record<string, string> = {};
    const mountpoints: Record<string, string> = { ...(req.volumeMountpoints ?? {}) };
    for (const dst of anonymousVolumeTargets(req.config ?? {}, req.hostConfig ?? {}, req.image)) {
      const volume = randomBytes(32).toString('hex');
      anonymousAt[dst] = volume;
      mountpoints[volume] = join(this.config['data-root'], 'volumes', volume, '_data');
    }
    const normalized = normalizeCreate(req.config ?? {}, req.hostConfig ?? {}, req.image, mountpoints, anonymousAt);
    const mode = normalized.hostConfig.NetworkMode || 'default';
    const primary = primaryNetworkOf(mode);
    if (primary === null) this.registry.resolve(mode.slice('container:'.length));
    else if (!PREDEFINED_NETWORKS.has(primary)) await this.network.inspect(primary);
    const release = this.registry.reserve(name, id);
    const command: ContainerCommand = {
      type: 'Create',
      data: {
        id,
        name,
        created: new Date().toISOString(),
        image: req.config.Image ?? req.image.id,
        imageId: req.image.id,
        path: normalized.path,
        args: normalized.args,
        config: normalized.config,
        hostConfig: normalized.hostConfig,
        mounts: normalized.mounts,
        logPath: this.paths(id).log,
        layerDirs: req.image.layerDirs,
      },
    };
    const usesVolumes = normalized.mounts.some((m) => m.type === 'volume') || Object.keys(anonymousAt).length > 0;
    let spawn: Promise<number> | undefined;
    try {
      // Off a bridge, and with no volume to populate first, the shim's spec needs nothing the append
      // decides (`registry.preview`): one executor job prepares the rootfs and spawns the shim while
      // ContainerCreated is written. A failed append takes it down with the runtime; a failed spawn is
      // start's error (start spawns again). Otherwise the rootfs is prepared before anything is recorded.
      const preview = this.registry.preview(id, command);
      const early = preview !== null && !hasOwnBridge(preview);
      if (!early || usesVolumes) await this.runtime.prepare(id, req.image.layerDirs);
      try {
        if (usesVolumes) await this.mountVolumes(id, normalized.mounts, anonymousAt, req);
        if (early) {
          spawn = this.ensureShim(preview, []);
          spawn.catch(() => undefined);
        }
        await this.registry.record(id, command, actor);
      } catch (e) {
        if (spawn) {
          await spawn.catch(() => undefined);
          this.shimReady.delete(id);
        }
        await this.volumes.release(id, true).catch(() => undefined);
        for (const v of Object.values(anonymousAt)) await this.volumes.remove(v).catch(() => undefined);
        await this.runtime.remove(id).catch(() => undefined);
        throw e;
      }
    } finally {
      release();
    }
    // The shim is spawned from create on, so a client can attach before start (docker run does); the
    // reply does not wait for it: attach and start do (ensureShim), and a failure here is reported by
    // start, which tries again. On `none` and `host` (and another container's namespace) the spec
    // needs no address: the shim spawns at once, and the lease is recorded after the first start (as
    // dockerd connects them at start; see leaseAfterStart). A bridge network's leases (aliases and
    // addresses as NetworkingConfig asks) are part of create; its ports are published at start.
    const state = this.registry.get(id)!;
    const spawnLogged = (p: Promise<number>) => void p.catch((e: Error) => this.logger.warn(`create runtime for ${id.slice(0, 12)}: ${e.message}`));
    if (spawn) {
      spawnLogged(spawn);
    } else if (!hasOwnBridge(state)) {
      spawnLogged(this.ensureShim(state, []));
    } else {
      const allocated = await this.allocateEndpoints(id, name, primary, req.networkingConfig).catch((e: Error) => {
        this.logger.warn(`networks of ${id.slice(0, 12)}: ${e.message}`);
        return null;
      });
      spawnLogged(this.ensureShim(state, allocated));
    }
    return { id, warnings: normalized.warnings };
  }

  /**
   * Anonymous volumes created, then a mount reference for every volume the container uses (the volumes
   * service refuses to remove a volume in use); empty volumes get the image's content there (copy-up).
   */
  private async mountVolumes(
    id: string,
    mounts: readonly { type: string; name: string; destination: string; readonly: boolean }[],
    anonymousAt: Record<string, string>,
    req: CreateContainerRequest,
  ): Promise<void> {
    for (const volume of Object.values(anonymousAt)) await this.volumes.createAnonymous(volume);
    const noCopy = new Set<string>();
    for (const m of req.hostConfig?.Mounts ?? []) if (m.Type === 'volume' && m.VolumeOptions?.NoCopy && m.Target) noCopy.add(m.Target);
    for (const b of req.hostConfig?.Binds ?? []) {
      const [, dst, opts = ''] = b.split(':');
      if (dst && opts.split(',').includes('nocopy')) noCopy.add(dst);
    }
    const refs = mounts
      .filter((m) => m.type === 'volume' && m.name)
      .map((m) => ({
        name: m.name,
        destination: m.destination,
        readonly: m.readonly,
        ...(noCopy.has(m.destination) || !req.image.layerDirs.length ? {} : { copyFrom: { layerDirs: req.image.layerDirs, path: m.destination } }),
      }));
    await this.volumes.mount(id, refs);
  }

  /** The container's endpoints, as the connects answered them. */
  private async allocateEndpoints(
    id: string,
    name: string,
    primary: string | null,
    networkingConfig: Record<string, unknown> | null | undefined,
  ): Promise<NetworkEndpoint[]> {
    if (primary === null) return [];
    const wanted = endpointsConfigOf(networkingConfig);
    const own = wanted.find((e) => e.network === primary);
    const endpoints = [
      await this.network.connect({ containerId: id, containerName: name, network: primary, aliases: own?.aliases ?? [], ...(own?.ipv4 ? { ipv4: own.ipv4 } : {}), publish: false }),
    ];
    if (primary === 'host' || primary === 'none') return endpoints;
    for (const e of wanted) {
      if (e.network === primary) continue;
      endpoints.push(
        await this.network.connect({ containerId: id, containerName: name, network: e.network, aliases: e.aliases, ...(e.ipv4 ? { ipv4: e.ipv4 } : {}), publish: false }),
      );
    }
    return endpoints;
  }

  /**
   * Spawns the shim of the next run (waiting before execve); returns its init's pid. `allocated`: create
   * has just allocated the leases (their endpoints, or null when that failed: read what there is).
   */
  private ensureShim(state: ContainerState, allocated?: NetworkEndpoint[] | null): Promise<number> {
    const ready = this.shimReady.get(state.id);
    if (ready !== undefined) return ready;
    const spawning = this.runSpecOf(state, allocated).then(async (spec) => (await this.runtime.create(state.id, spec, state.layerDirs)).pid);
    this.shimReady.set(state.id, spawning);
    spawning.catch(() => {
      if (this.shimReady.get(state.id) === spawning) this.shimReady.delete(state.id);
    });
    return spawning;
  }

  /**
   * none/host: the endpoint is recorded once the container has started (the network's "connect" event
   * after "start"), in the background. Idempotent per container.
   */
  private leaseAfterStart(c: ContainerState): void {
    const primary = primaryNetworkOf(c.hostConfig.NetworkMode);
    if (primary === null || hasOwnBridge(c) || this.leased.has(c.id)) return;
    this.leased.add(c.id);
    this.queueLease({ containerId: c.id, containerName: c.name, network: primary, connect: true, release: false });
  }

  /**
   * none/host leases are bookkeeping only (no veth, no address): they wait LEASE_DELAY_MS so that they
   * do not compete with the run that just started, and go as one `network.record-leases` per flush
   * (one append per network). A short `docker run --rm` is over by then: its connect and release are
   * recorded together. Flushes run one after the other, so a release never overtakes its connect.
   */
  private queueLease(lease: LeaseRecord): void {
    const queued = this.pendingLeases.get(lease.containerId);
    this.pendingLeases.set(
      lease.containerId,
      queued ? { ...queued, connect: queued.connect || lease.connect, release: queued.release || lease.release } : lease,
    );
    if (this.leaseTimer) return;
    this.leaseTimer = setTimeout(() => void this.flushLeases(), LEASE_DELAY_MS);
    this.leaseTimer.unref();
  }

  private flushLeases(): Promise<void> {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    const leases = [...this.pendingLeases.values()];
    this.pendingLeases.clear();
    if (leases.length === 0) return this.leasesRecorded;
    this.leasesRecorded = this.leasesRecorded.then(() =>
      this.network.recordLeases(leases).catch((e: Error) => {
        for (const l of leases) if (l.connect && !l.release) this.leased.delete(l.containerId);
        this.logger.warn(`network leases of ${leases.length} container(s): ${e.message}`);
      }),
    );
    return this.leasesRecorded;
  }

  /** Keeps `p` in `map` under `id` until it settles. */
  private track(map: Map<string, Promise<unknown>>, id: string, p: Promise<unknown>): void {
    const settled = p.then(() => undefined, () => undefined);
    map.set(id, settled);
    void settled.then(() => {
      if (map.get(id) === settled) map.delete(id);
    });
  }

  /** The runtime spec plus what the network decides: the netns to join, the container's own /etc/hosts lines. */
  private async runSpecOf(state: ContainerState, allocated?: NetworkEndpoint[] | null): Promise<ContainerRuntimeSpec> {
    const spec = runtimeSpecOf(state);
    const mode = state.hostConfig.NetworkMode || 'default';
    const primary = primaryNetworkOf(mode);
    if (primary === null) {
      const other = this.registry.resolve(mode.slice('container:'.length));
      if (other.status !== 'running' && other.status !== 'paused') {
        throw conflict(`cannot join network namespace of a non running container: ${other.id}`);
      }
      return { ...spec, networkNamespace: { mode: 'join', path: `/proc/${other.pid}/ns/net` } };
    }
    if (primary === 'host') return spec;
    // create has just allocated them (allocateEndpoints): connecting again would only re-read the same lease.
    if (allocated === undefined) await this.network.connect({ containerId: state.id, containerName: state.name, network: primary, publish: false });
    const own = (allocated ?? (await this.network.endpoints(state.id)))
      .filter((e) => e.driver === 'bridge' && e.ip)
      .map((e) => ({ address: e.ip, hostnames: [spec.hostname] }));
    return { ...spec, hostsEntries: [...(spec.hostsEntries ?? []), ...own] };
  }

  /** Between container.create and container.start: endpoints into the netns, ports published. */
  private async attachNetwork(c: ContainerState, pid: number): Promise<void> {
    const primary = primaryNetworkOf(c.hostConfig.NetworkMode);
    // none: berth-init brings lo up in the netns it creates; host: nothing to attach, no ports to publish.
    if (primary === null || primary === 'none' || primary === 'host') return;
    await this.network.attach({
      containerId: c.id,
      containerName: c.name,
      pid,
      primary: {
        network: primary,
        portBindings: c.hostConfig.PortBindings ?? {},
        exposedPorts: c.config.ExposedPorts ?? {},
        publishAll: !!c.hostConfig.PublishAllPorts,
      },
    });
  }

  /** The run is over: its ports and veths go (leases stay until removal). Never fails the caller. */
  private async networkStopped(c: ContainerState): Promise<void> {
    // none/host/another container's namespace: no veths, no published ports.
    if (!hasOwnBridge(c)) return;
    await this.network.stopped(c.id).catch((e: Error) => this.logger.warn(`network stop of ${c.id.slice(0, 12)}: ${e.message}`));
  }

  // ---- start / stop / kill / restart -----------------------------------------------------------

  async start(ref: string, actor: Actor | null = null, restart = false): Promise<void> {
    // One start at a time per container (the restart policy and reconcile may both try one).
    for (let inflight = this.starting.get(this.registry.resolve(ref).id); inflight; inflight = this.starting.get(this.registry.resolve(ref).id)) {
      await inflight;
      if (restart) return;
    }
    const c = this.registry.resolve(ref);
    // The restart policy starts a `restarting` container; a user's start of one is a 304 like Docker's.
    if (!(restart && c.status === 'restarting')) this.registry.check(c.id, { type: 'CheckStart' });
    if (!restart) this.cancelRestart(c.id);
    const run = this.startRun(c, actor, restart);
    this.starting.set(c.id, run.catch(() => undefined));
    try {
      await run;
    } finally {
      if (this.starting.get(c.id) !== undefined) this.starting.delete(c.id);
    }
  }

  private async startRun(c: ContainerState, actor: Actor | null, restart: boolean): Promise<void> {
    try {
      const pid = await this.ensureShim(c);
      await this.attachNetwork(c, pid);
      const started = await this.runtime.start(c.id);
      this.shimReady.delete(c.id);
      await this.registry.record(c.id, { type: 'RecordStarted', pid: started.pid, startedAt: started.startedAt, restart }, actor);
      this.leaseAfterStart(c);
    } catch (e) {
      this.shimReady.delete(c.id);
      const error = DomainError.from(e);
      if (error.code === ErrorCode.NotModified) throw error;
      await this.networkStopped(c);
      const exitCode = /not found|no such file/i.test(error.message) ? 127 : /permission denied/i.test(error.message) ? 126 : 128;
      await this.registry
        .record(c.id, { type: 'RecordStartFailed', error: error.message, exitCode, at: new Date().toISOString() }, actor)
        .catch(() => undefined);
      // As dockerd: a --rm container whose start failed is removed (the CLI waits for that removal).
      if (c.hostConfig.AutoRemove) {
        setImmediate(() => void this.remove({ id: c.id, force: true }, SYSTEM_ACTOR).catch((e: Error) => this.logger.warn(`auto-remove ${c.id.slice(0, 12)}: ${e.message}`)));
      }
      // Docker answers a failed exec with 400 (the CLI maps the wording to exit codes 126/127).
      if (exitCode === 127 || exitCode === 126) {
        const prefix = 'failed to create task for container: ';
        throw invalid(`${error.message.startsWith(prefix) ? '' : prefix}${error.message}: unknown`);
      }
      throw error;
    }
  }

  async stop(req: StopContainerRequest, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(req.id);
    this.cancelRestart(c.id);
    if (c.status === 'restarting') {
      await this.registry.record(c.id, { type: 'RecordStopped' }, actor);
      return;
    }
    if (c.status !== 'running' && c.status !== 'paused') throw new DomainError(ErrorCode.NotModified, 'container already stopped');
    const signal = req.signal || c.config.StopSignal || 'SIGTERM';
    const timeout = req.t ?? (typeof c.config.StopTimeout === 'number' ? c.config.StopTimeout : 10);
    this.stopping.add(c.id);
    try {
      await this.registry.record(c.id, { type: 'RecordKill', signal: normalizeSignal(signal), requireRunning: false }, actor);
      if (c.status === 'paused') await this.runtime.unpause(c.id).catch(() => undefined);
      const result = await this.runtime.stop(c.id, signal, timeout);
      await this.onExited(c.id, { exitCode: result.exitCode, oomKilled: false, finishedAt: result.exitedAt, startedAt: c.startedAt }, true);
      await this.registry.record(c.id, { type: 'RecordStopped' }, actor);
    } finally {
      this.stopping.delete(c.id);
    }
  }

  async kill(req: KillContainerRequest, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(req.id);
    const signal = normalizeSignal(req.signal ?? 'SIGKILL');
    this.registry.check(c.id, { type: 'RecordKill', signal, requireRunning: true });
    if (c.status === 'restarting') {
      this.cancelRestart(c.id);
      await this.registry.record(c.id, { type: 'RecordStopped' }, actor);
      return;
    }
    await this.registry.record(c.id, { type: 'RecordKill', signal, requireRunning: true }, actor);
    if (signal === 'SIGKILL' || signal === '9') this.stopping.add(c.id);
    try {
      await this.runtime.signal(c.id, signal);
    } catch (e) {
      this.stopping.delete(c.id);
      throw e;
    }
  }

  async restart(req: StopContainerRequest, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(req.id);
    if (c.status === 'running' || c.status === 'paused') await this.stop(req, actor);
    await this.start(c.id, actor);
    await this.registry.record(c.id, { type: 'RecordRestarted' }, actor);
  }

  async pause(ref: string, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(ref);
    this.registry.check(c.id, { type: 'CheckPause' });
    await this.runtime.pause(c.id);
    await this.registry.record(c.id, { type: 'RecordPaused' }, actor);
  }

  async unpause(ref: string, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(ref);
    this.registry.check(c.id, { type: 'CheckUnpause' });
    await this.runtime.unpause(c.id);
    await this.registry.record(c.id, { type: 'RecordUnpaused' }, actor);
  }

  // ---- exits and restart policies -----------------------------------------------------------------

  /** An exit reported by the executor (observation) or by a stop job; idempotent per run. */
  async onExited(
    id: string,
    exit: { exitCode: number; oomKilled: boolean; finishedAt: string; startedAt: string },
    byUser = false,
  ): Promise<void> {
    await this.starting.get(id);
    const c = this.registry.get(id);
    if (!c) return;
    const user = byUser || this.stopping.has(id);
    const restarting = !user && this.shouldRestart(c, exit.exitCode);
    const exited: ContainerCommand = { type: 'RecordExited', ...exit, restarting, byUser: user };
    // --rm without published ports: the exit and the start of the removal are one commit, and the
    // network's stop step is left to the removal's release (the same teardown; no ports to unpublish).
    const autoRemoveNow =
      !!c.hostConfig.AutoRemove && !user && !restarting && !c.hostConfig.PublishAllPorts && Object.keys(c.hostConfig.PortBindings ?? {}).length === 0;
    if (autoRemoveNow) {
      this.cancelRestart(id);
      const inFlight = this.autoRemoving.get(id);
      if (inFlight) return inFlight;
      const run = this.autoRemoveAfterExit(c, exited);
      this.track(this.autoRemoving, id, run);
      return run;
    }
    const events = (await this.registry.record(id, exited, SYSTEM_ACTOR)).events;
    if (events.length === 0) {
      await this.networkDown.get(id);
      return;
    }
    this.shimReady.delete(id);
    const down = this.networkStopped(c);
    this.networkDown.set(id, down);
    await down;
    if (this.networkDown.get(id) === down) this.networkDown.delete(id);
    if (restarting) {
      const after = this.registry.get(id)!;
      const delay = Math.min(100 * 2 ** Math.max(0, after.restartCount - 1), 60_000);
      this.scheduleRestart(id, delay);
    } else if (c.hostConfig.AutoRemove && !user) {
      await this.remove({ id, force: true }, SYSTEM_ACTOR).catch((e: Error) => this.logger.warn(`auto-remove ${id.slice(0, 12)}: ${e.message}`));
    } else if (c.hostConfig.AutoRemove && user) {
      // docker stop on a --rm container removes it too
      setImmediate(() => void this.remove({ id, force: true }, SYSTEM_ACTOR).catch(() => undefined));
    }
  }

  /**
   * `--rm` after an exit of its own (no published ports): the volume references and leases go first (a
   * `volume ls` or `network rm` right after the run finds them gone), then the exit, the start of the
   * removal and the removal are one commit, and the runtime (shim, mounts, cgroups, files) is removed
   * after it, so `docker run --rm` does not wait for that teardown; nothing can use a removed
   * container's runtime, and its id is never reused. A runtime removal that fails is retried, and what
   * still stays the next boot's `sweepRuntimes` removes. A removal already under way (rm -f) refuses
   * BeginRemoval: then the exit alone.
   */
  private async autoRemoveAfterExit(c: ContainerState, exited: ContainerCommand): Promise<void> {
    const id = c.id;
    const ran = c.status === 'running' || c.status === 'paused';
    if (ran) await this.releaseReferences(c, true);
    const commands: ContainerCommand[] = [exited, { type: 'BeginRemoval', force: true }, ...(ran ? [{ type: 'RecordRemoved' } as const] : [])];
    const r = await this.registry
      .recordAll(id, commands, SYSTEM_ACTOR)
      .catch(() => this.registry.record(id, exited, SYSTEM_ACTOR).then((x) => ({ ...x, decided: 1 })));
    if (r.events.length === 0) return;
    this.shimReady.delete(id);
    if (r.decided === 3) this.removeRuntimeLater(id);
    else if (r.decided === 2) await this.release(c, true, SYSTEM_ACTOR).catch((e: Error) => this.logger.warn(`auto-remove ${id.slice(0, 12)}: ${e.message}`));
  }

  /** The runtime of a removed container, in the background: retried after 1, 5 and 25 s. */
  private removeRuntimeLater(id: string, attempt = 0): void {
    const removal = this.runtime.remove(id).then(
      () => undefined,
      (e: Error) => {
        if (attempt >= 3) {
          this.logger.warn(`runtime of removed container ${id.slice(0, 12)} stays until the next boot: ${e.message}`);
          return;
        }
        setTimeout(() => this.removeRuntimeLater(id, attempt + 1), 1000 * 5 ** attempt).unref();
      },
    );
    this.runtimeRemovals.add(removal);
    void removal.finally(() => this.runtimeRemovals.delete(removal));
  }

  /** `berth down`: the background runtime removals under way and the queued leases finish first (up to 10 s). */
  async beforeApplicationShutdown(): Promise<void> {
    const pending = [...this.runtimeRemovals, this.flushLeases()];
    await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  /**
   * At boot: runtimes the executor still holds for containers the model no longer has (a removal whose
   * runtime part failed after it was recorded, or a crash before it ran). Younger than a minute may be
   * a create in progress (prepared before ContainerCreated is recorded): left alone.
   */
  async sweepRuntimes(): Promise<string[]> {
    const { containers } = await this.runtime.list();
    const gone = containers.filter((x) => x.ageMs > RUNTIME_SWEEP_MIN_AGE_MS && !this.registry.get(x.id)).map((x) => x.id);
    for (const id of gone) this.removeRuntimeLater(id);
    return gone;
  }

  private shouldRestart(c: ContainerState, exitCode: number): boolean {
    const policy = c.hostConfig.RestartPolicy?.Name ?? 'no';
    if (c.status === 'removing') return false;
    if (policy === 'always' || policy === 'unless-stopped') return true;
    if (policy === 'on-failure') {
      const max = c.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || c.restartCount < max);
    }
    return false;
  }

  private scheduleRestart(id: string, delayMs: number): void {
    this.cancelRestart(id);
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      const c = this.registry.get(id);
      if (!c || c.status !== 'restarting') return;
      this.start(id, SYSTEM_ACTOR, true).catch((e: Error) => this.logger.warn(`restart ${id.slice(0, 12)}: ${e.message}`));
    }, delayMs);
    timer.unref();
    this.restartTimers.set(id, timer);
  }

  private cancelRestart(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  /**
   * At boot: containers the model believes are up are checked against the node; those gone are
   * recorded as exited (and restarted per policy), and `always`/`unless-stopped` containers that are
   * not running are started again (Docker's daemon-start behaviour).
   */
  async reconcile(): Promise<void> {
    for (const c of this.registry.all()) {
      try {
        if (c.status === 'running' || c.status === 'paused') {
          const rt = await this.runtime.state(c.id);
          if (rt.status === 'exited' || rt.status === 'absent' || rt.status === 'prepared' || rt.status === 'created') {
            // No exit recorded: the run was lost with its shim (a reboot empties the exec root): killed.
            await this.onExited(c.id, {
              exitCode: rt.exitCode ?? 137,
              oomKilled: rt.oomKilled,
              finishedAt: rt.exitedAt ?? new Date().toISOString(),
              startedAt: c.startedAt,
            });
          }
        } else if (c.status === 'restarting') {
          this.scheduleRestart(c.id, 100);
        } else if (c.status === 'removing') {
          await this.remove({ id: c.id, force: true }, SYSTEM_ACTOR);
        } else if (c.status === 'exited') {
          const policy = c.hostConfig.RestartPolicy?.Name;
          if (policy === 'always' || (policy === 'unless-stopped' && !c.stoppedByUser)) {
            if (!c.stoppedByUser || policy === 'always') await this.start(c.id, SYSTEM_ACTOR, true);
          }
        }
      } catch (e) {
        this.logger.warn(`reconcile ${c.id.slice(0, 12)}: ${(e as Error).message}`);
      }
    }
    const swept = await this.sweepRuntimes().catch((e: Error) => (this.logger.warn(`runtime sweep: ${e.message}`), []));
    if (swept.length > 0) this.logger.log(`removing the runtimes of ${swept.length} removed container(s)`);
  }

  // ---- wait --------------------------------------------------------------------------------------

  async wait(req: WaitContainerRequest): Promise<WaitContainerReply> {
    const gone = this.registry.get(req.id) ? undefined : this.recentlyRemoved.get(req.id);
    if (gone) return gone;
    const c = this.registry.resolve(req.id);
    const id = c.id;
    const startExits = req.afterExitCount ?? c.exitCount;
    const met = (s: ContainerState | null, last: ContainerState): WaitContainerReply | null => {
      // As dockerd: a wait for the removal carries no error (the start's error was the start's reply).
      const code = { statusCode: (s ?? last).exitCode, error: req.condition === 'removed' ? null : (s ?? last).error || null };
      switch (req.condition) {
        case 'removed':
          return s === null ? code : null;
        case 'next-exit':
          return s === null || s.exitCount > startExits ? code : null;
        default:
          return s === null || (s.status !== 'running' && s.status !== 'paused' && s.status !== 'restarting') ? code : null;
      }
    };
    const now = met(c, c);
    if (now && req.condition !== 'removed') return now;
    return new Promise<WaitContainerReply>((resolve) => {
      let last = c;
      const waitId = req.waitId;
      const done = (reply: WaitContainerReply) => {
        clearTimeout(timer);
        off();
        if (waitId !== undefined && this.waits.get(waitId) === done) this.waits.delete(waitId);
        resolve(reply);
      };
      const off = this.registry.onChange((state, events, before) => {
        const mine = state ? state.id === id : before?.id === id;
        if (!mine) return;
        const r = met(state, state ?? (before ? beforeRemoval(events, before) : last));
        if (state) last = state;
        if (r) done(r);
      });
      const timer = setTimeout(() => done(WAIT_PENDING), WAIT_POLL_MS);
      if (waitId === undefined) return;
      if (this.cancelledWaits.take(waitId)) done(WAIT_PENDING);
      else this.waits.set(waitId, done);
    });
  }

  /**
   * The gateway's clients of these waits left (a detached `docker run` leaves its wait behind as soon as
   * its start is answered): each ends now with `pending`, rather than holding a long poll for minutes. An
   * id not waiting yet is remembered for a while, so a cancel that overtakes its wait still ends it.
   */
  cancelWaits({ waitIds }: CancelWaitsRequest): void {
    for (const id of Array.isArray(waitIds) ? waitIds : []) {
      const end = this.waits.get(id);
      if (end) end(WAIT_PENDING);
      else if (typeof id === 'string') this.cancelledWaits.put(id, true);
    }
  }

  // ---- remove / rename / update / prune ----------------------------------------------------------

  async remove(req: RemoveContainerRequest, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(req.id);
    this.cancelRestart(c.id);
    await this.registry.record(c.id, { type: 'BeginRemoval', force: !!req.force }, actor);
    if (c.status === 'running' || c.status === 'paused' || c.status === 'restarting') {
      this.stopping.add(c.id);
      try {
        if (c.status !== 'restarting') {
          await this.registry.record(c.id, { type: 'RecordKill', signal: 'SIGKILL', requireRunning: false }, actor);
          const result = await this.runtime.stop(c.id, 'SIGKILL', 0);
          await this.registry.record(
            c.id,
            { type: 'RecordExited', exitCode: result.exitCode, oomKilled: false, finishedAt: result.exitedAt, startedAt: '', restarting: false, byUser: true },
            actor,
          ).catch(() => undefined);
        }
      } finally {
        this.stopping.delete(c.id);
      }
    }
    await this.release(c, !!req.volumes, actor);
  }

  /** After BeginRemoval (the run is over): the runtime, volume references and leases go, then RecordRemoved. */
  private async release(c: ContainerState, removeVolumes: boolean, actor: Actor | null): Promise<void> {
    await this.releaseResources(c, removeVolumes);
    await this.registry.record(c.id, { type: 'RecordRemoved' }, actor);
  }

  /** The runtime, volume references and leases of a container whose run is over; throws when the runtime stays. */
  private async releaseResources(c: ContainerState, removeVolumes: boolean): Promise<void> {
    // The executor's removal, the volume references and the network leases are independent: at once.
    const [runtimeResult] = await Promise.allSettled([this.runtime.remove(c.id), this.releaseReferences(c, removeVolumes)]);
    if (runtimeResult.status === 'rejected') throw runtimeResult.reason;
    this.shimReady.delete(c.id);
  }

  /** Volume references and network leases (failures logged: the removal goes on). */
  private async releaseReferences(c: ContainerState, removeVolumes: boolean): Promise<void> {
    const volumesReleased = c.mounts.some((m) => m.type === 'volume')
      ? // References released; `rm -v` and `--rm` remove the anonymous volumes too (named ones stay).
        this.volumes
          .release(c.id, removeVolumes || !!c.hostConfig.AutoRemove)
          .then(() => undefined, (e: Error) => this.logger.warn(`volume release of ${c.id.slice(0, 12)}: ${e.message}`))
      : Promise.resolve();
    await Promise.all([volumesReleased, this.releaseNetwork(c)]);
  }

  /**
   * The container's leases go. On none/host (no veth, no address, nothing published) that is
   * bookkeeping only: queued (see queueLease), the removal does not wait for it; a bridge network's
   * release is awaited.
   */
  private releaseNetwork(c: ContainerState): Promise<void> {
    const primary = primaryNetworkOf(c.hostConfig.NetworkMode);
    if (primary === null) return Promise.resolve();
    this.leased.delete(c.id);
    if (!hasOwnBridge(c)) {
      this.queueLease({ containerId: c.id, containerName: c.name, network: primary, connect: false, release: true });
      return Promise.resolve();
    }
    return this.network.disconnectAll(c.id).then(
      () => undefined,
      (e: Error) => this.logger.warn(`network release of ${c.id.slice(0, 12)}: ${e.message}`),
    );
  }

  async rename(ref: string, name: string, actor: Actor | null = null): Promise<void> {
    const c = this.registry.resolve(ref);
    const clean = name.replace(/^\//, '');
    if (!clean) throw invalid('Neither old nor new names may be empty');
    const release = this.registry.reserve(clean, c.id);
    try {
      await this.registry.record(c.id, { type: 'Rename', name: clean }, actor);
    } finally {
      release();
    }
  }

  async update(req: UpdateContainerRequest, actor: Actor | null = null): Promise<{ warnings: string[] }> {
    const c = this.registry.resolve(req.id);
    const r = req.resources;
    for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && v < -1) throw invalid(`invalid ${k}: ${v}`);
    if (req.restartPolicy && req.restartPolicy.Name && req.restartPolicy.Name !== 'no' && c.hostConfig.AutoRemove) {
      throw invalid(`Cannot update container ${c.id}: can't update restart policy of a container with AutoRemove enabled`);
    }
    const patch: Record<string, unknown> = {};
    const names: Record<string, string> = {
      memory: 'Memory', memorySwap: 'MemorySwap', memoryReservation: 'MemoryReservation', nanoCpus: 'NanoCpus', cpuShares: 'CpuShares',
      cpuQuota: 'CpuQuota', cpuPeriod: 'CpuPeriod', cpusetCpus: 'CpusetCpus', cpusetMems: 'CpusetMems', pidsLimit: 'PidsLimit', blkioWeight: 'BlkioWeight',
    };
    for (const [k, v] of Object.entries(r)) if (names[k] && v !== undefined) patch[names[k]] = v;
    if (req.restartPolicy) patch.RestartPolicy = req.restartPolicy;
    this.registry.check(c.id, { type: 'Update', hostConfig: patch });
    let warnings: string[] = [];
    if ((c.status === 'running' || c.status === 'paused') && Object.keys(r).length) {
      warnings = (await this.runtime.update(c.id, resourcesOf({ ...c.hostConfig, ...patch }))).warnings;
    }
    await this.registry.record(c.id, { type: 'Update', hostConfig: patch }, actor);
    return { warnings };
  }

  async prune(req: PruneContainersRequest, actor: Actor | null = null): Promise<PruneContainersReply> {
    const filters = req.filters ?? {};
    const until = filters.until?.[0];
    const untilMs = until ? (/^\d+(\.\d+)?$/.test(until) ? Number(until) * 1000 : Date.parse(until)) : undefined;
    const labelFilters = { label: filters.label ?? [] };
    const candidates = this.registry
      .all()
      .filter((c) => c.status === 'exited' || c.status === 'created' || c.status === 'dead')
      .filter((c) => untilMs === undefined || Date.parse(c.created) < untilMs)
      .filter((c) => matchContainer(c, labelFilters, () => undefined));
    const deleted: string[] = [];
    for (const c of candidates) {
      try {
        await this.remove({ id: c.id }, actor);
        deleted.push(c.id);
      } catch (e) {
        this.logger.warn(`prune ${c.id.slice(0, 12)}: ${(e as Error).message}`);
      }
    }
    return { containersDeleted: deleted, spaceReclaimed: 0 };
  }

  // ---- attach, resize, top, stats ----------------------------------------------------------------

  async attach(ref: string, actor: Actor | null = null, early = false): Promise<AttachReply> {
    const c = this.registry.resolve(ref);
    if (c.status === 'removing' || c.status === 'dead') throw conflict(`container ${c.id} is marked for removal`);
    if (c.status === 'paused') throw conflict(`You cannot attach to a paused container, unpause it first`);
    // The attach is recorded in the container's append order (before a start that follows) but not
    // waited for: the reply needs only the shim (create answered before its spawn finished).
    void this.registry.record(c.id, { type: 'RecordAttached' }, actor).catch((e: Error) => this.logger.warn(`attach of ${c.id.slice(0, 12)}: ${e.message}`));
    let shimPending = false;
    if (c.status === 'exited' || c.status === 'created') {
      const spawning = this.ensureShim(c);
      if (early) {
        // `attachReady` waits for it (and reports its failure); start waits for it too.
        spawning.catch(() => undefined);
        shimPending = true;
      } else await spawning;
    }
    return {
      id: c.id,
      name: c.name,
      ...(shimPending ? { shimPending } : {}),
      tty: !!c.config.Tty,
      openStdin: !!c.config.OpenStdin,
      stdinOnce: !!c.config.StdinOnce,
      attachSocket: this.paths(c.id).attachSocket,
      status: c.status,
    };
  }

  /** Once the shim of the next run (when one is to be spawned) is up. */
  async attachReady(ref: string): Promise<void> {
    const c = this.registry.resolve(ref);
    if (c.status === 'exited' || c.status === 'created') await this.ensureShim(c);
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const c = this.registry.resolve(ref);
    if (c.status !== 'running' && c.status !== 'created' && !this.shimReady.has(c.id)) {
      throw conflict(`Container ${c.id} is not running`);
    }
    await this.runtime.resize(c.id, h, w).catch((e: DomainError) => {
      if (e.code !== ErrorCode.Conflict) throw e;
    });
  }

  async closeStdin(ref: string): Promise<void> {
    const c = this.registry.resolve(ref);
    await this.runtime.closeStdin(c.id).catch(() => undefined);
  }

  async top(ref: string, psArgs?: string) {
    const c = this.registry.resolve(ref);
    if (c.status !== 'running' && c.status !== 'paused') throw conflict(`container ${c.id} is not running`);
    return this.runtime.top(c.id, psArgs);
  }

  async size(ref: string): Promise<{ sizeRw: number }> {
    return this.runtime.size(this.registry.resolve(ref).id);
  }

  async stats(ref: string) {
    const c = this.registry.resolve(ref);
    if (c.status !== 'running' && c.status !== 'paused') return null;
    return this.runtime.stats(c.id);
  }

  // ---- exec --------------------------------------------------------------------------------------

  async execCreate(req: ExecCreateRequest, actor: Actor | null = null): Promise<ExecCreateReply> {
    const c = this.registry.resolve(req.id);
    if (!req.cmd?.length) throw invalid('No exec command specified');
    const execId = randomBytes(32).toString('hex');
    const exec: ExecView = {
      id: execId,
      containerId: c.id,
      running: false,
      exitCode: null,
      pid: 0,
      openStdin: !!req.attachStdin,
      openStdout: !!req.attachStdout,
      openStderr: !!req.attachStderr,
      tty: !!req.tty,
      privileged: !!req.privileged,
      user: req.user ?? '',
      entrypoint: req.cmd[0]!,
      arguments: req.cmd.slice(1),
      workingDir: req.workingDir ?? '',
      env: req.env ?? [],
      detachKeys: req.detachKeys ?? '',
    };
    this.registry.check(c.id, { type: 'CreateExec', exec });
    // Its shim is spawned now, while the exec is recorded (waiting before execve), so the start that
    // follows finds it ready.
    if (c.status === 'running') {
      const spawning = this.spawnExec(c, exec, exec.tty);
      this.execReady.set(execId, spawning);
      spawning.catch(() => undefined);
    }
    try {
      await this.registry.record(c.id, { type: 'CreateExec', exec }, actor);
    } catch (e) {
      this.execReady.delete(execId);
      throw e;
    }
    // the spawn's attach socket, for the start that follows (see the gateway's execStart)
    return this.execReady.has(execId) ? { id: execId, prepared: { exec, attachSocket: this.paths(c.id).exec(execId).attachSocket } } : { id: execId };
  }

  private spawnExec(container: ContainerState, exec: ExecView, tty: boolean): Promise<number> {
    return this.runtime
      .execCreate(
        container.id,
        exec.id,
        {
          args: [exec.entrypoint, ...exec.arguments],
          env: mergeEnv(container.config.Env, exec.env),
          cwd: exec.workingDir || container.config.WorkingDir || '/',
          ...(exec.user || container.config.User ? { user: exec.user || container.config.User } : {}),
          tty,
          openStdin: exec.openStdin,
          stdinOnce: exec.openStdin,
        },
        exec.privileged,
      )
      .then((r) => r.pid);
  }

  execInspect(execId: string): ExecView {
    const { container, execId: id } = this.registry.findExec(execId);
    return container.execs[id]!;
  }

  /** Spawns the exec's shim (waiting before execve) so the caller can attach first. */
  async execPrepare(execId: string, tty?: boolean): Promise<ExecPrepareAnswer> {
    const { container, execId: id } = this.registry.findExec(execId);
    const exec = container.execs[id]!;
    if (exec.exitCode !== null) return { refused: `Error: Exec command ${id} has already run` };
    if (exec.running) return { refused: `Error: Exec command ${id} is already running` };
    if (container.status !== 'running') throw conflict(`container ${container.id} is not running`);
    // Spawned at create (with the create's Tty, which is what Docker runs with); if that failed, again here.
    const prepared = this.execReady.get(id);
    if (!prepared || (await prepared.then(() => false, () => true))) {
      const again = this.spawnExec(container, exec, tty ?? exec.tty);
      this.execReady.set(id, again);
      await again;
    }
    return { exec, attachSocket: this.paths(container.id).exec(id).attachSocket };
  }

  async execRun(execId: string, actor: Actor | null = null): Promise<ExecView> {
    const { container, execId: id } = this.registry.findExec(execId);
    // As dockerd, exec_start is recorded as the exec is started (before the runtime's answer, whose
    // failure is then an exec_die with 126/127): with the pid known from the spawn, the two overlap.
    const pid = await this.execReady.get(id)?.catch(() => undefined);
    this.execReady.delete(id);
    const recorded = pid ? this.registry.record(container.id, { type: 'RecordExecStarted', execId: id, pid }, actor) : undefined;
    recorded?.catch(() => undefined);
    try {
      const started = await this.runtime.execStart(container.id, id);
      await (recorded ?? this.registry.record(container.id, { type: 'RecordExecStarted', execId: id, pid: started.pid }, actor));
    } catch (e) {
      const error = DomainError.from(e);
      const code = /not found|no such file/i.test(error.message) ? 127 : /permission denied/i.test(error.message) ? 126 : 126;
      await this.registry.record(container.id, { type: 'RecordExecStarted', execId: id, pid: 0 }, actor).catch(() => undefined);
      await this.onExecExited(container.id, id, code);
      throw error;
    }
    return this.registry.get(container.id)!.execs[id]!;
  }

  async onExecExited(containerId: string, execId: string, exitCode: number): Promise<void> {
    if (!this.registry.get(containerId)?.execs[execId]) return;
    await this.registry.record(containerId, { type: 'RecordExecExited', execId, exitCode }, SYSTEM_ACTOR);
  }

  async onExecStarted(containerId: string, execId: string, pid: number): Promise<void> {
    if (!this.registry.get(containerId)?.execs[execId]) return;
    await this.registry.record(containerId, { type: 'RecordExecStarted', execId, pid }, SYSTEM_ACTOR).catch(() => undefined);
  }

  async execResize(execId: string, h: number, w: number): Promise<void> {
    const { container, execId: id } = this.registry.findExec(execId);
    await this.runtime.execResize(container.id, id, h, w).catch((e: DomainError) => {
      if (e.code !== ErrorCode.Conflict) throw e;
    });
  }

  /** Resolves once the exec's exit is recorded (or it never ran). */
  async execWait(execId: string): Promise<ExecView> {
    const { container, execId: id } = this.registry.findExec(execId);
    const current = container.execs[id]!;
    if (current.exitCode !== null) return current;
    return new Promise<ExecView>((resolve) => {
      const done = (v: ExecView) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = this.registry.onChange((state, _events, before) => {
        const s = state ?? before;
        if (!s || s.id !== container.id) return;
        const e = s.execs[id];
        if (!state) done({ ...(e ?? current), running: false, exitCode: e?.exitCode ?? 137 });
        else if (e && e.exitCode !== null) done(e);
      });
      const timer = setTimeout(() => done(this.registry.get(container.id)?.execs[id] ?? current), WAIT_POLL_MS);
    });
  }

  // ---- observations ------------------------------------------------------------------------------

  async onStarted(id: string, pid: number, startedAt: string): Promise<void> {
    const c = this.registry.get(id);
    if (!c || c.status === 'running') return;
    if (c.status !== 'created' && c.status !== 'restarting' && c.status !== 'exited') return;
    // A start the service did not record itself (e.g. it crashed between the job and the append).
    if (c.startedAt !== startedAt && c.finishedAt < startedAt) {
      await this.registry.record(id, { type: 'RecordStarted', pid, startedAt, restart: false }, SYSTEM_ACTOR).catch(() => undefined);
    }
  }

  missing(ref: string): never {
    throw notFound(`No such container: ${ref}`);
  }
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14,
  TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27,
  WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** `TERM`, `SIGTERM`, `15`, `SIGRTMIN+3` -> `SIGTERM`/number text; unknown ones are 400s with Docker's words. */
export function normalizeSignal(sig: string | number): string {
  const s = String(sig).trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalid(`Invalid signal: ${s}`);
    const name = Object.entries(SIGNALS).find(([, v]) => v === n)?.[0];
    return name ? `SIG${name}` : s;
  }
  const upper = s.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS[upper] !== undefined) return `SIG${upper}`;
  if (/^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(upper)) return `SIG${upper}`;
  throw invalid(`Invalid signal: ${s}`);
}

/** On a bridge network of its own (not none, host or another container's namespace): veths, addresses, maybe ports. */
function hasOwnBridge(c: ContainerState): boolean {
  const primary = primaryNetworkOf(c.hostConfig.NetworkMode);
  return primary !== null && primary !== 'none' && primary !== 'host';
}
