import { randomUUID } from 'node:crypto';
import {
  containerPaths,
  type AttachReply,
  ContainerPatterns,
  type ContainerView,
  type CreateContainerReply,
  type CreateContainerRequest,
  DomainError,
  ErrorCode,
  type ExecCreateReply,
  type ExecPrepareAnswer,
  type ExecPrepareReply,
  type ExecView,
  ImagePatterns,
  type ImageView,
  invalid,
  type ContainerEndpointsReply,
  GenerationPatterns,
  type GenerationReply,
  type NetworkEndpoint,
  NetworkPatterns,
  type NetworkView,
  type PruneContainersReply,
  type ResolvedImageView,
  VolumePatterns,
  type VolumeView,
  type WaitCondition,
  type WaitContainerReply,
} from '@berth/contracts';
import { GenerationWatch, RecentMap, RpcClient } from '@berth/messaging';
import type { BerthConfig } from '@berth/config';
import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_CONFIG } from '../config';
import type { Filters } from '../http/query-params';
import { parseCreateBody, statusStableUntil, toContainerInspect, toContainerSummary } from './container.mapper';
import { ImageResolveCache } from '../images/image-resolve.cache';

/** Long polls (wait, exec wait) are re-asked after this; the service answers `pending` before it. */
const LONG_POLL_MS = 6 * 60_000;
const LONG_MS = 120_000;
/** how long cancelled waits are gathered before one `waitCancel` carries them */
const WAIT_CANCEL_DELAY_MS = 1000;

/** The client of a wait: whether it left, and a hook for when it does. */
export interface WaitClient {
  readonly closed: boolean;
  onClose(listener: () => void): void;
}
/** distinct list queries (all, limit, filters) kept */
const LIST_CACHE_KEYS = 32;

/** The list caches' key for one query. */
export const listKey = (all: boolean, limit: number | undefined, filters: Filters): string => JSON.stringify([all, limit ?? null, filters]);

const namedVolumes = (binds: readonly string[] | null | undefined, mounts: readonly { Type?: string; Source?: string }[] | null | undefined) => {
  const names = new Set<string>();
  for (const b of binds ?? []) {
    const src = b.split(':')[0] ?? '';
    if (b.includes(':') && src && !src.startsWith('/')) names.add(src);
  }
  for (const m of mounts ?? []) if (m.Type === 'volume' && m.Source) names.add(m.Source);
  return [...names];
};

/** How long a created container counts as fresh (see ContainersService.fresh). */
const FRESH_MS = 10_000;

export interface FreshContainer {
  readonly id: string;
  readonly tty: boolean;
  readonly openStdin: boolean;
}

/** Container use cases at the API edge: orchestrate create, translate views to Docker's JSON. */
@Injectable()
export class ContainersService {
  /** list query -> the views of the last full read and the containers generation they belong to */
  private readonly listCache = new Map<string, { generation: string; views: ContainerView[] }>();
  private endpointsCache?: { generation: string; byContainer: Map<string, NetworkEndpoint[]> };
  /**
   * list query -> the serialized response for (containers generation, network generation), reused until
   * the first Status text in it would change (`Up 3 seconds` -> `Up 4 seconds`): mapping and JSON of
   * 200 summaries were most of a list request's time.
   */
  private readonly bodyCache = new Map<string, { containersGen: string; networkGen: string; validUntil: number; body: Buffer }>();

  /** reference -> view, for the containers generation it was read at (see view()) */
  private readonly viewCache = new Map<string, { gen: string; view: ContainerView }>();
  /** container id -> its endpoints, for the network generation they were read at */
  private readonly endpointsOf = new Map<string, { net: string; endpoints: NetworkEndpoint[] }>();
  /** reference -> inspect body, for the (containers, network) generations it was built at */
  private readonly inspectCache = new Map<string, { gen: string; net: string; body: ReturnType<typeof toContainerInspect> }>();

  /** waits whose clients left, for the next `waitCancel` */
  private readonly waitCancels: string[] = [];
  private waitCancelTimer?: NodeJS.Timeout;

  constructor(
    private readonly rpc: RpcClient,
    /** the services' pushed generations: a cache hit needs no request */
    private readonly watch: GenerationWatch,
    /** images.resolve answers, kept until images may have changed */
    private readonly resolved: ImageResolveCache,
    @Inject(GATEWAY_CONFIG) private readonly config: BerthConfig,
  ) {}

  async create(name: string | undefined, body: unknown): Promise<{ Id: string; Warnings: string[] }> {
    const { config, hostConfig, networkingConfig } = parseCreateBody(body);
    if (name !== undefined && name !== '' && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    if (!config.Image) throw invalid('config cannot be empty in order to create a container');
    if (typeof hostConfig.Memory === 'number' && hostConfig.Memory < 0) throw invalid('invalid Memory: must be a positive integer');
    let image: ResolvedImageView;
    try {
      image = await this.resolved.resolve(config.Image);
    } catch (e) {
      const err = DomainError.from(e);
      if (err.code === ErrorCode.NotFound) throw new DomainError(ErrorCode.NotFound, `No such image: ${config.Image}`);
      throw err;
    }
    const volumeMountpoints: Record<string, string> = {};
    for (const v of namedVolumes(hostConfig.Binds, hostConfig.Mounts)) {
      const view = await this.rpc.request<VolumeView>(VolumePatterns.create, { name: v });
      volumeMountpoints[v] = view.mountpoint;
    }
    const request: CreateContainerRequest = {
      ...(name ? { name } : {}),
      config,
      hostConfig,
      networkingConfig,
      image,
      volumeMountpoints,
    };
    const reply = await this.rpc.request<CreateContainerReply>(ContainerPatterns.create, request, { timeoutMs: LONG_MS });
    this.fresh.put(reply.id, { id: reply.id, tty: !!config.Tty, openStdin: !!config.OpenStdin });
    return { Id: reply.id, Warnings: reply.warnings ?? [] };
  }

  /**
   * Containers this gateway created and nobody has started, removed or renamed since (by full id, for
   * FRESH_MS): `docker run`'s attach and wait on them answer before any round trip (a never-started
   * container has no exits yet; the attach is still recorded, and its start waits for it to connect).
   */
  private readonly fresh = new RecentMap<FreshContainer>(FRESH_MS);

  freshContainer(ref: string): FreshContainer | undefined {
    return this.fresh.get(ref);
  }

  /** Before a start, rename or removal of `ref` (a full id, a prefix or a name): no longer fresh. */
  forgetFresh(ref: string): void {
    if (this.fresh.size === 0) return;
    if (this.fresh.delete(ref)) return;
    // A name or a prefix: without the names at hand, forget them all (they are a fast path only).
    this.fresh.clear();
  }

  /** What a wait needs: the container's id and its exit count when the wait was asked. */
  async waitTarget(ref: string): Promise<{ id: string; exitCount: number }> {
    const fresh = this.freshContainer(ref);
    return fresh ? { id: fresh.id, exitCount: 0 } : this.view(ref);
  }

  /**
   * The container as the service has it. Kept per reference while the pushed containers generation
   * stays (the service publishes a change before any reply that follows it, so a client never reads
   * a view older than a reply it already has); asked again otherwise.
   */
  async view(id: string): Promise<ContainerView> {
    const gen = this.watch.current('containers');
    const hit = gen === undefined ? undefined : this.viewCache.get(id);
    if (hit && hit.gen === gen) return hit.view;
    const view = await this.rpc.request<ContainerView>(ContainerPatterns.inspect, { id });
    if (gen !== undefined && gen === this.watch.current('containers')) remember(this.viewCache, id, { gen, view });
    return view;
  }

  /** `GET /containers/{id}/json`, kept per reference for the pushed (containers, network) generations. */
  async inspect(id: string): Promise<ReturnType<typeof toContainerInspect>> {
    const gen = this.watch.current('containers');
    const net = this.watch.current('network');
    const hit = gen === undefined || net === undefined ? undefined : this.inspectCache.get(id);
    if (hit && hit.gen === gen && hit.net === net) return hit.body;
    const view = await this.view(id);
    // The network service owns addresses and published ports; without it inspect still answers. Kept
    // per container for the pushed network generation (an exec loop changes the container, not them).
    const known = net === undefined ? undefined : this.endpointsOf.get(view.id);
    const endpoints =
      known && known.net === net
        ? known.endpoints
        : await this.rpc.request<ContainerEndpointsReply>(NetworkPatterns.containerEndpoints, { containerId: view.id }).then(
            (r) => r.endpoints,
            () => undefined,
          );
    if (endpoints && net !== undefined && net === this.watch.current('network')) remember(this.endpointsOf, view.id, { net, endpoints });
    const body = toContainerInspect(view, endpoints, containerPaths(this.config['data-root'], this.config['exec-root'], view.id));
    if (endpoints && gen !== undefined && net !== undefined && gen === this.watch.current('containers') && net === this.watch.current('network')) {
      remember(this.inspectCache, id, { gen, net, body });
    }
    return body;
  }

  /** Docker's SizeRw (the writable layer) and SizeRootFs (that plus the image). */
  async sizes(id: string, imageId: string): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const [{ sizeRw }, image] = await Promise.all([
      this.rpc.request<{ sizeRw: number }>(ContainerPatterns.size, { id }),
      this.rpc.request<ImageView>(ImagePatterns.inspect, { name: imageId }).catch(() => undefined),
    ]);
    return { SizeRw: sizeRw, SizeRootFs: sizeRw + (image?.size ?? 0) };
  }

  async listWithSizes(all: boolean, limit: number | undefined, filters: Filters) {
    const summaries = await this.list(all, limit, filters);
    return Promise.all(summaries.map(async (s) => ({ ...s, ...(await this.sizes(s.Id, s.ImageID)) })));
  }

  /**
   * `GET /containers/json` as its JSON body (what list() returns, serialized), cached per generations and
   * query. With both generations pushed (GenerationWatch) a hit is answered synchronously, without I/O.
   */
  listBody(all: boolean, limit: number | undefined, filters: Filters): Buffer | Promise<Buffer> {
    const key = listKey(all, limit, filters);
    return this.cachedListBody(key) ?? this.listBodyMiss(key, all, limit, filters, this.watch.current('containers'), this.watch.current('network'));
  }

  /**
   * The body for `listKey(...)` when it can be answered right now without any I/O: both generations
   * pushed and trusted, the cached body built for them, its Status texts still current.
   */
  cachedListBody(key: string): Buffer | undefined {
    const hit = this.bodyCache.get(key);
    if (!hit || Date.now() >= hit.validUntil) return undefined;
    return hit.containersGen === this.watch.current('containers') && hit.networkGen === this.watch.current('network') ? hit.body : undefined;
  }

  private async listBodyMiss(
    key: string,
    all: boolean,
    limit: number | undefined,
    filters: Filters,
    pushedContainersGen: string | undefined,
    pushedNetworkGen: string | undefined,
  ): Promise<Buffer> {
    const [containersGen, networkGen] = await Promise.all([
      pushedContainersGen ?? this.askGeneration(GenerationPatterns.containers),
      pushedNetworkGen ?? this.askGeneration(GenerationPatterns.network),
    ]);
    const now = Date.now();
    const hit = this.bodyCache.get(key);
    if (hit && containersGen !== undefined && networkGen !== undefined && hit.containersGen === containersGen && hit.networkGen === networkGen && now < hit.validUntil) {
      return hit.body;
    }
    const { summaries, views } = await this.listWith(all, limit, filters, containersGen, networkGen, now);
    const body = Buffer.from(JSON.stringify(summaries));
    if (containersGen !== undefined && networkGen !== undefined) {
      let validUntil = Infinity;
      for (const v of views) validUntil = Math.min(validUntil, statusStableUntil(v, now));
      this.bodyCache.delete(key);
      this.bodyCache.set(key, { containersGen, networkGen, validUntil, body });
      if (this.bodyCache.size > LIST_CACHE_KEYS) this.bodyCache.delete(this.bodyCache.keys().next().value!);
    }
    return body;
  }

  async list(all: boolean, limit: number | undefined, filters: Filters) {
    // Generation tokens first (pushed, or tiny replies): an unchanged list is served from what the last full read built.
    const [containersGen, networkGen] = await Promise.all([
      this.watch.current('containers') ?? this.askGeneration(GenerationPatterns.containers),
      this.watch.current('network') ?? this.askGeneration(GenerationPatterns.network),
    ]);
    return (await this.listWith(all, limit, filters, containersGen, networkGen, Date.now())).summaries;
  }

  private async listWith(
    all: boolean,
    limit: number | undefined,
    filters: Filters,
    containersGen: string | undefined,
    networkGen: string | undefined,
    now: number,
  ) {
    const key = listKey(all, limit, filters);
    const hit = containersGen !== undefined ? this.listCache.get(key) : undefined;
    let views: ContainerView[];
    if (hit && hit.generation === containersGen) {
      views = hit.views;
    } else {
      views = await this.rpc.request<ContainerView[]>(ContainerPatterns.list, { all, limit, filters });
      if (containersGen !== undefined) {
        this.listCache.delete(key);
        this.listCache.set(key, { generation: containersGen, views });
        if (this.listCache.size > LIST_CACHE_KEYS) this.listCache.delete(this.listCache.keys().next().value!);
      }
    }
    let byContainer: Map<string, NetworkEndpoint[]> | undefined;
    if (views.length) {
      if (networkGen !== undefined && this.endpointsCache?.generation === networkGen) byContainer = this.endpointsCache.byContainer;
      else {
        byContainer = await this.endpointsByContainer();
        this.endpointsCache = networkGen !== undefined && byContainer ? { generation: networkGen, byContainer } : undefined;
      }
    }
    return { views, summaries: views.map((v) => toContainerSummary(v, now, byContainer ? (byContainer.get(v.id) ?? []) : undefined)) };
  }

  /** The fallback while no push is trusted; undefined when the service cannot tell (then nothing is cached). */
  private askGeneration(pattern: string): Promise<string | undefined> {
    return this.rpc.request<GenerationReply>(pattern, {}).then(
      (r) => (typeof r?.generation === 'string' ? r.generation : undefined),
      () => undefined,
    );
  }

  /** One request for every container's endpoints (the networks list carries them). */
  private async endpointsByContainer(): Promise<Map<string, NetworkEndpoint[]> | undefined> {
    try {
      const networks = await this.rpc.request<NetworkView[]>(NetworkPatterns.list, { filters: {} });
      const out = new Map<string, NetworkEndpoint[]>();
      for (const n of networks) {
        for (const [id, e] of Object.entries(n.containers)) {
          const list = out.get(id) ?? [];
          list.push(e);
          out.set(id, list);
        }
      }
      return out;
    } catch {
      return undefined;
    }
  }

  async command(pattern: string, payload: Record<string, unknown>, timeoutMs = LONG_MS): Promise<void> {
    await this.rpc.request(pattern, payload, { timeoutMs });
  }

  async update(id: string, body: Record<string, unknown>) {
    const num = (k: string) => {
      const v = body[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number') throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field UpdateConfig.${k} of type int64`);
      return v;
    };
    const resources = Object.fromEntries(
      (
        [
          ['memory', num('Memory')],
          ['memorySwap', num('MemorySwap')],
          ['memoryReservation', num('MemoryReservation')],
          ['nanoCpus', num('NanoCpus')],
          ['cpuShares', num('CpuShares')],
          ['cpuQuota', num('CpuQuota')],
          ['cpuPeriod', num('CpuPeriod')],
          ['pidsLimit', num('PidsLimit')],
          ['blkioWeight', num('BlkioWeight')],
          ['cpusetCpus', typeof body.CpusetCpus === 'string' && body.CpusetCpus ? body.CpusetCpus : undefined],
        ] as const
      ).filter(([, v]) => v !== undefined && v !== 0 && v !== ''),
    );
    const restartPolicy = body.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
    const reply = await this.rpc.request<{ warnings: string[] }>(
      ContainerPatterns.update,
      { id, resources, ...(restartPolicy && restartPolicy.Name !== undefined && restartPolicy.Name !== '' ? { restartPolicy } : {}) },
      { timeoutMs: LONG_MS },
    );
    return { Warnings: reply.warnings?.length ? reply.warnings : null };
  }

  /**
   * Long poll until the condition holds. When the client leaves first (a detached `docker run` leaves
   * as soon as its start is answered), the service's long poll is cancelled (see cancelWait) and no
   * more are asked.
   */
  async wait(ref: string | { id: string; exitCount: number }, condition: WaitCondition, client: WaitClient): Promise<WaitContainerReply> {
    const start = typeof ref === 'string' ? await this.view(ref) : ref;
    const waitId = randomUUID();
    let waiting = true;
    client.onClose(() => {
      if (waiting) this.cancelWait(waitId);
    });
    try {
      for (;;) {
        const reply = await this.rpc.request<WaitContainerReply>(
          ContainerPatterns.wait,
          { id: start.id, condition, afterExitCount: start.exitCount, waitId },
          { timeoutMs: LONG_POLL_MS },
        );
        if (!reply.pending || client.closed) return reply;
      }
    } finally {
      waiting = false;
    }
  }

  /**
   * Queues a wait whose client left; the queue goes to the service as one `waitCancel` a second later,
   * so a burst of detached runs costs one request (after the burst), not one each.
   */
  private cancelWait(waitId: string): void {
    this.waitCancels.push(waitId);
    if (this.waitCancelTimer) return;
    this.waitCancelTimer = setTimeout(() => {
      this.waitCancelTimer = undefined;
      const waitIds = this.waitCancels.splice(0);
      this.rpc.request(ContainerPatterns.waitCancel, { waitIds }).catch(() => undefined); // the polls end by themselves later
    }, WAIT_CANCEL_DELAY_MS);
    this.waitCancelTimer.unref();
  }

  async prune(filters: Filters) {
    const reply = await this.rpc.request<PruneContainersReply>(ContainerPatterns.prune, { filters }, { timeoutMs: 10 * 60_000 });
    return { ContainersDeleted: reply.containersDeleted.length ? reply.containersDeleted : null, SpaceReclaimed: reply.spaceReclaimed };
  }

  attach(id: string, early = false): Promise<AttachReply> {
    return this.rpc.request<AttachReply>(ContainerPatterns.attach, early ? { id, early } : { id }, { timeoutMs: LONG_MS });
  }

  /** Waits until the shim of the container's next run (if one is being spawned) is up. */
  async attachReady(id: string): Promise<void> {
    await this.rpc.request(ContainerPatterns.attachReady, { id }, { timeoutMs: LONG_MS });
  }

  /**
   * Attaches answered (101) before their shim was up and not yet connected to it. A start of that
   * container waits for them, or the first output could be written before anyone listens.
   */
  private readonly attachGates = new Map<Promise<void>, { id: string; name?: string }>();

  /** Registers an early attach; call the function it returns once it is connected to the shim (or gave up). */
  gateStart(container: { id: string; name?: string }): () => void {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.attachGates.set(gate, container);
    void gate.then(() => this.attachGates.delete(gate));
    return open;
  }

  /** The early attaches of the container `ref` names (full id, id prefix or name), settled. */
  async attachesConnected(ref: string): Promise<void> {
    if (this.attachGates.size === 0) return;
    const name = ref.replace(/^\//, '');
    const mine = [...this.attachGates].filter(([, c]) => c.id.startsWith(ref) || c.name === name).map(([g]) => g);
    await Promise.all(mine);
  }

  top(id: string, psArgs?: string) {
    return this.rpc.request<{ Titles: string[]; Processes: string[][] }>(ContainerPatterns.top, { id, psArgs });
  }

  async stats(id: string) {
    return (await this.rpc.request<{ stats: Record<string, unknown> | null }>(ContainerPatterns.stats, { id })).stats;
  }

  // ---- exec

  async execCreate(id: string, body: unknown): Promise<{ Id: string }> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('json: cannot unmarshal into Go value of type container.ExecOptions');
    const b = body as Record<string, unknown>;
    const strs = (k: string) => {
      const v = b[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'string' && k === 'Cmd') return [v];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ExecOptions.${k} of type []string`);
      }
      return v as string[];
    };
    const cmd = strs('Cmd');
    if (!cmd?.length) throw invalid('No exec command specified');
    const reply = await this.rpc.request<ExecCreateReply>(ContainerPatterns.execCreate, {
      id,
      cmd,
      env: strs('Env'),
      workingDir: typeof b.WorkingDir === 'string' ? b.WorkingDir : undefined,
      user: typeof b.User === 'string' ? b.User : undefined,
      tty: !!b.Tty,
      privileged: !!b.Privileged,
      attachStdin: !!b.AttachStdin,
      attachStdout: !!b.AttachStdout,
      attachStderr: !!b.AttachStderr,
      detachKeys: typeof b.DetachKeys === 'string' ? b.DetachKeys : undefined,
    });
    if (reply.prepared) this.freshExecs.put(reply.id, reply.prepared);
    return { Id: reply.id };
  }

  /**
   * Execs this gateway created, with where their shims listen (spawned at create), until their first
   * start takes them (for FRESH_MS): that start connects to the shim before any round trip, where
   * `exec-prepare` would ask the service first. Taken once: a second start asks as before (409).
   */
  private readonly freshExecs = new RecentMap<ExecPrepareReply>(FRESH_MS);

  takeFreshExec(execId: string): ExecPrepareReply | undefined {
    return this.freshExecs.take(execId);
  }

  execPrepare(execId: string, tty?: boolean) {
    return this.rpc.request<ExecPrepareAnswer>(ContainerPatterns.execPrepare, { execId, tty }, { timeoutMs: LONG_MS });
  }

  execRun(execId: string) {
    return this.rpc.request<ExecView>(ContainerPatterns.execRun, { execId }, { timeoutMs: LONG_MS });
  }

  async execWait(execId: string): Promise<ExecView> {
    for (;;) {
      const v = await this.rpc.request<ExecView>(ContainerPatterns.execWait, { execId }, { timeoutMs: LONG_POLL_MS });
      if (v.exitCode !== null) {
        this.exitedExecs.put(execId, v);
        return v;
      }
    }
  }

  /**
   * Execs whose exit this gateway saw recorded (exec-wait, before their stream closed), for FRESH_MS:
   * the CLI's `GET /exec/{id}/json` that follows is answered without a round trip. An exited exec
   * never changes again.
   */
  private readonly exitedExecs = new RecentMap<ExecView>(FRESH_MS);

  async execInspect(execId: string) {
    const e = this.exitedExecs.get(execId) ?? (await this.rpc.request<ExecView>(ContainerPatterns.execInspect, { execId }));
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { tty: e.tty, entrypoint: e.entrypoint, arguments: e.arguments, privileged: e.privileged, user: e.user },
      OpenStdin: e.openStdin,
      OpenStderr: e.openStderr,
      OpenStdout: e.openStdout,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys,
      Pid: e.pid,
    };
  }

  execResize(execId: string, h: number, w: number) {
    return this.rpc.request(ContainerPatterns.execResize, { execId, h, w });
  }
}

/** Bounded caches: dropped whole past this many references (they refill on the next reads). */
const READ_CACHE_MAX = 2000;

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= READ_CACHE_MAX) cache.clear();
  cache.set(key, value);
}
