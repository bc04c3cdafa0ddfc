import type { BerthConfig } from '@berth/config';
import {
  type Actor,
  type AttachContainerRequest,
  type ConnectContainerRequest,
  type ConnectNetworkRequest,
  type CreateNetworkReply,
  type CreateNetworkRequest,
  defaultBridgeName,
  DomainError,
  type DisconnectContainerReply,
  type DisconnectContainerRequest,
  ErrorCode,
  ExecutorJob,
  invalid,
  type NetworkCreated,
  type NetworkEndpoint,
  type NetworkEvent,
  networkNftTable,
  type NetworkView,
  notFound,
  type PruneNetworksReply,
  type PruneNetworksRequest,
  type RecordLeasesRequest,
  userBridgeName,
} from '@berth/contracts';
import { EventStore } from '@berth/event-store';
import { ExecutorQueueClient, GenerationFeed } from '@berth/messaging';
import { BERTH_CONFIG, CachedCommandHandler, type Decider } from '@berth/service-kit';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { formatCidr, intToIp, ipToInt, overlaps, parseCidr, pickSubnet, type Cidr } from './ipam';
import { decide, endpointOf, evolve, initialNetworkState, type NetworkCommand, type NetworkState, networkStreamId } from './network.decider';
import { matchNetwork } from './network-filters';
import { NetworkRepository } from './network.repository';
import { toPublishedPorts } from './port-bindings';
import { networkViewProjection } from './projections/network-view.projection';

const decider: Decider<NetworkCommand, NetworkState, NetworkEvent> = { initialState: initialNetworkState, decide, evolve };
const EXECUTOR_TIMEOUT_MS = 30_000;
const DEFAULTS_WAIT_MS = 15_000;
const DEFAULTS_ATTEMPTS = 60;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const newId = () => randomBytes(32).toString('hex');
const networkNotFound = (ref: string) => notFound(`network ${ref} not found`);

/**
 * Network use cases. A network's stream (`network:<id>`) holds its IP leases (EndpointAllocated /
 * EndpointReleased), so two allocations racing on one network are serialized by the event store's
 * expected-version check. Kernel work (bridges, veths, nft) goes through the executor queue.
 */
@Injectable()
export class NetworksService implements OnApplicationBootstrap {
  private readonly log = new Logger('NetworksService');
  private readonly createLock = new Mutex();
  /** record-leases' networks by the name or id it was given: only null/host ones, which are never removed */
  private readonly leaseNetworks = new Map<string, Pick<NetworkView, 'id' | 'driver'>>();
  private defaults: Promise<void> = Promise.resolve();
  /** Each network's folded stream in memory, appends serialized per network (a lease costs one append). */
  private readonly commands: CachedCommandHandler<NetworkCommand, NetworkState, NetworkEvent>;

  constructor(
    store: EventStore,
    private readonly executor: ExecutorQueueClient,
    private readonly networks: NetworkRepository,
    @Inject(BERTH_CONFIG) private readonly config: BerthConfig,
    /** bumped on every append (the gateway's list caches follow it); every change goes through append() */
    private readonly generations: GenerationFeed,
  ) {
    // The endpoint projection needs no state: a lease's append is one statement (appendStatement).
    this.commands = new CachedCommandHandler(store, decider, { [networkViewProjection.name]: null });
    this.generations.bump();
  }

  private get table() {
    return networkNftTable(this.config.namespace);
  }

  onApplicationBootstrap(): void {
    this.defaults = this.ensureDefaultsWithRetry();
  }

  /** Waits (bounded) for the predefined networks; the executor may still be starting. */
  private async ready(): Promise<void> {
    await Promise.race([this.defaults, sleep(DEFAULTS_WAIT_MS)]);
  }

  private async ensureDefaultsWithRetry(): Promise<void> {
    for (let attempt = 1; attempt <= DEFAULTS_ATTEMPTS; attempt++) {
      try {
        await this.ensureDefaults();
        return;
      } catch (e) {
        if (attempt === DEFAULTS_ATTEMPTS) this.log.error(`default networks: ${(e as Error).message}`);
        else await sleep(1000);
      }
    }
  }

  /** `bridge`, `host`, `none` exist; every bridge network's bridge and rules are in place (after a reboot too). */
  async ensureDefaults(): Promise<void> {
    await this.createLock.lock(async () => {
      for (const [name, driver] of [
        ['host', 'host'],
        ['none', 'null'],
      ] as const) {
        if (!(await this.networks.find(name))) {
          await this.append(newId(), {
            type: 'CreateNetwork',
            data: this.networkData({ id: '', name, driver, bridge: '', ipam: [], predefined: true }),
          });
        }
      }
      if (!(await this.networks.find('bridge'))) {
        const subnet = await this.pickFreeSubnet();
        const bridge = defaultBridgeName(this.config.namespace);
        const id = newId();
        await this.append(id, {
          type: 'CreateNetwork',
          data: this.networkData({
            id,
            name: 'bridge',
            driver: 'bridge',
            bridge,
            ipam: [{ subnet: formatCidr(subnet), gateway: intToIp(subnet.base + 1) }],
            predefined: true,
            options: {
              'com.docker.network.bridge.default_bridge': 'true',
              'com.docker.network.bridge.enable_icc': 'true',
              'com.docker.network.bridge.enable_ip_masquerade': 'true',
              'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
              [BRIDGE_NAME_OPTION]: bridge,
              'com.docker.network.driver.mtu': '1500',
            },
          }),
        });
      }
    });
    for (const n of await this.networks.list()) {
      if (n.driver === 'bridge') await this.ensureBridge(n);
    }
  }

  private networkData(
    d: Pick<NetworkCreated['data'], 'id' | 'name' | 'driver' | 'bridge' | 'ipam' | 'predefined'> & Partial<NetworkCreated['data']>,
  ): NetworkCreated['data'] {
    return { internal: false, attachable: false, enableIPv6: false, options: {}, labels: {}, ...d };
  }

  get generation(): string {
    return this.generations.token;
  }

  private async append(id: string, command: NetworkCommand, actor: Actor | null = null) {
    if (command.type === 'CreateNetwork') command = { ...command, data: { ...command.data, id } };
    try {
      return await this.commands.handle(networkStreamId(id), command, actor);
    } finally {
      this.generations.bump();
    }
  }

  private ensureBridge(n: Pick<NetworkView, 'bridge' | 'ipam' | 'internal'>) {
    return this.executor.run(
      ExecutorJob.NetworkEnsureBridge,
      { table: this.table, bridge: n.bridge, subnet: n.ipam[0]!.subnet, gateway: n.ipam[0]!.gateway, internal: n.internal },
      { timeoutMs: EXECUTOR_TIMEOUT_MS },
    );
  }

  /** Subnets already used: Berth's networks plus the host's routes (outside this namespace's bridges). */
  private async takenSubnets(): Promise<Cidr[]> {
    const existing = await this.networks.list();
    const ours = existing.map((n) => n.bridge).filter(Boolean);
    ours.push(defaultBridgeName(this.config.namespace));
    const { routes } = await this.executor.run(ExecutorJob.NetworkHostRoutes, { excludeDevs: ours }, { timeoutMs: EXECUTOR_TIMEOUT_MS });
    return [...existing.flatMap((n) => n.ipam.map((c) => parseCidr(c.subnet))), ...routes.map(parseCidr)];
  }

  private async pickFreeSubnet(): Promise<Cidr> {
    const subnet = pickSubnet(this.config['default-address-pools'], await this.takenSubnets());
    if (!subnet) throw new DomainError(ErrorCode.Unavailable, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    return subnet;
  }

  // ---- API ----

  async create(req: CreateNetworkRequest, actor: Actor | null = null): Promise<CreateNetworkReply> {
    await this.ready();
    const name = req.name;
    if (!name) throw invalid('network name must not be empty');
    if (!NAME.test(name)) throw invalid(`invalid network name "${name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    const driver = req.driver || 'bridge';
    if (driver === 'host' || driver === 'null') {
      throw new DomainError(ErrorCode.Forbidden, `only one instance of "${driver}" network is allowed`);
    }
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    if (req.ipam?.driver && req.ipam.driver !== 'default') throw notFound(`plugin "${req.ipam.driver}" not found`);
    return this.createLock.lock(async () => {
      if ((await this.networks.list()).some((n) => n.name === name)) {
        throw new DomainError(ErrorCode.Conflict, `network with name ${name} already exists`);
      }
      const id = newId();
      const requested = (req.ipam?.config ?? []).find((c) => c.subnet);
      let subnet: Cidr;
      let gateway: string;
      let ipRange: string | undefined;
      if (requested?.subnet) {
        subnet = parseCidr(requested.subnet);
        if (subnet.prefix > 30) throw invalid(`invalid subnet ${requested.subnet}: too small`);
        const others = (await this.networks.list()).flatMap((n) => n.ipam.map((c) => parseCidr(c.subnet)));
        if (others.some((o) => overlaps(o, subnet))) {
          throw new DomainError(ErrorCode.Forbidden, 'invalid pool request: Pool overlaps with other one on this address space');
        }
        gateway = requested.gateway || intToIp(subnet.base + 1);
        const gw = ipToInt(gateway);
        if (gw <= subnet.base || gw >= subnet.base + 2 ** (32 - subnet.prefix) - 1) {
          throw invalid(`no matching subnet for gateway ${gateway}`);
        }
        if (requested.ipRange) ipRange = formatCidr(parseCidr(requested.ipRange));
      } else {
        subnet = await this.pickFreeSubnet();
        gateway = intToIp(subnet.base + 1);
      }
      const options = req.options ?? {};
      const bridge = options[BRIDGE_NAME_OPTION] || userBridgeName(this.config.namespace, id);
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(bridge)) throw invalid(`invalid bridge name ${bridge}`);
      const data = this.networkData({
        id,
        name,
        driver: 'bridge',
        bridge,
        ipam: [{ subnet: formatCidr(subnet), gateway, ...(ipRange ? { ipRange } : {}) }],
        predefined: false,
        internal: !!req.internal,
        attachable: !!req.attachable,
        enableIPv6: !!req.enableIPv6,
        options,
        labels: req.labels ?? {},
      });
      await this.ensureBridge(data);
      try {
        await this.append(id, { type: 'CreateNetwork', data }, actor);
      } catch (e) {
        await this.removeBridge(data).catch(() => undefined);
        throw e;
      }
      return { id, warning: '' };
    });
  }

  private removeBridge(n: Pick<NetworkView, 'bridge' | 'ipam' | 'internal'>) {
    return this.executor.run(
      ExecutorJob.NetworkRemoveBridge,
      { table: this.table, bridge: n.bridge, subnet: n.ipam[0]!.subnet, gateway: n.ipam[0]!.gateway, internal: n.internal },
      { timeoutMs: EXECUTOR_TIMEOUT_MS },
    );
  }

  async list(filters: Record<string, string[]> = {}): Promise<NetworkView[]> {
    await this.ready();
    return (await this.networks.list()).filter((n) => matchNetwork(n, filters));
  }

  async inspect(ref: string): Promise<NetworkView> {
    await this.ready();
    const n = await this.networks.find(ref);
    if (!n) throw networkNotFound(ref);
    return n;
  }

  async remove(ref: string, actor: Actor | null = null): Promise<void> {
    const n = await this.inspect(ref);
    const { events } = await this.append(n.id, { type: 'RemoveNetwork', id: n.id }, actor);
    if (events.length && n.driver === 'bridge') await this.removeBridge(n);
  }

  async prune(req: PruneNetworksRequest, actor: Actor | null = null): Promise<PruneNetworksReply> {
    const { until, label, ...rest } = req.filters ?? {};
    for (const key of Object.keys(rest)) throw invalid(`invalid filter '${key}'`);
    const cutoff = until?.length ? parseUntil(until[0]!) : null;
    const deleted: string[] = [];
    for (const n of await this.list(label ? { label } : {})) {
      if (n.predefined || Object.keys(n.containers).length > 0) continue;
      if (cutoff !== null && Date.parse(n.createdAt) >= cutoff) continue;
      try {
        await this.remove(n.id, actor);
        deleted.push(n.name);
      } catch (e) {
        this.log.warn(`prune ${n.name}: ${(e as Error).message}`);
      }
    }
    return { networksDeleted: deleted };
  }

  async count(): Promise<number> {
    return this.networks.count();
  }

  // ---- containers ----

  private async allocate(
    req: Pick<ConnectContainerRequest, 'containerId' | 'containerName' | 'network' | 'aliases' | 'ipv4'>,
    refuseExisting: boolean,
    actor: Actor | null,
  ): Promise<{ network: Pick<NetworkView, 'id' | 'name' | 'driver'>; endpoint: NetworkEndpoint }> {
    if (!req.containerId) throw invalid('containerId is required');
    const ref = !req.network || req.network === 'default' ? 'bridge' : req.network;
    await this.ready();
    // Only the id and driver: inspect() would read every endpoint of the network (all of `none`'s) per lease.
    const [network, own] = await Promise.all([this.networks.findNetwork(ref), this.networks.endpointsOf(req.containerId)]);
    if (!network) throw networkNotFound(ref);
    const others = own.filter((e) => e.networkId !== network.id);
    const used = new Set(others.map((e) => e.ifname));
    let index = 0;
    while (used.has(`eth${index}`)) index++;
    const { state } = await this.append(
      network.id,
      {
        type: 'AllocateEndpoint',
        endpointId: newId(),
        containerId: req.containerId,
        containerName: req.containerName ?? req.containerId.slice(0, 12),
        aliases: req.aliases ?? [],
        ...(req.ipv4 ? { ipv4: req.ipv4 } : {}),
        ifname: `eth${index}`,
        refuseExisting,
      },
      actor,
    );
    const endpoint = endpointOf(state, req.containerId);
    if (!endpoint) throw new DomainError(ErrorCode.Internal, 'endpoint allocation lost');
    const { containerName: _name, ...plain } = endpoint;
    return { network, endpoint: plain };
  }

  /** Container flow: allocate (idempotent) and publish the port bindings. */
  async connectContainer(req: ConnectContainerRequest, actor: Actor | null = null): Promise<{ endpoint: NetworkEndpoint }> {
    const { network, endpoint } = await this.allocate(req, false, actor);
    if (req.publish === false || network.driver !== 'bridge') return { endpoint };
    const ports = toPublishedPorts(req.portBindings, req.exposedPorts, !!req.publishAll);
    if (ports.length === 0 && endpoint.ports.length === 0) return { endpoint };
    const published = await this.executor.run(
      ExecutorJob.NetworkPublishPorts,
      { table: this.table, endpoint, ports },
      { timeoutMs: EXECUTOR_TIMEOUT_MS },
    );
    await this.append(network.id, { type: 'PublishPorts', containerId: req.containerId, ports: published.ports }, actor);
    return { endpoint: { ...endpoint, ports: published.ports } };
  }

  /** Container flow, between container.create (pid) and container.start. */
  async attachContainer(req: AttachContainerRequest, actor: Actor | null = null): Promise<{ endpoints: NetworkEndpoint[] }> {
    if (req.primary) {
      await this.connectContainer({ ...req.primary, containerId: req.containerId, containerName: req.containerName }, actor);
    }
    const endpoints = await this.networks.endpointsOf(req.containerId);
    for (const endpoint of endpoints) {
      if (endpoint.driver === 'host') continue;
      await this.executor.run(
        ExecutorJob.NetworkAttachNetns,
        { containerPid: req.pid, endpoint },
        { timeoutMs: EXECUTOR_TIMEOUT_MS },
      );
    }
    return { endpoints };
  }

  async containerEndpoints(containerId: string): Promise<{ endpoints: NetworkEndpoint[] }> {
    return { endpoints: await this.networks.endpointsOf(containerId) };
  }

  /** The container's process is gone: rules and host veths go, leases stay. */
  async containerStopped(containerId: string, actor: Actor | null = null): Promise<{ ok: true }> {
    for (const endpoint of await this.networks.endpointsOf(containerId)) {
      await this.teardown(endpoint);
      if (endpoint.ports.length) await this.append(endpoint.networkId, { type: 'PublishPorts', containerId, ports: [] }, actor);
    }
    return { ok: true };
  }

  private async teardown(endpoint: NetworkEndpoint): Promise<void> {
    if (endpoint.driver !== 'bridge') return;
    // Independent: the endpoint's nft rules and its host veth.
    await Promise.all([
      this.executor.run(ExecutorJob.NetworkUnpublishPorts, { table: this.table, endpointId: endpoint.endpointId }, { timeoutMs: EXECUTOR_TIMEOUT_MS }),
      this.executor.run(ExecutorJob.NetworkDetachNetns, { endpoint }, { timeoutMs: EXECUTOR_TIMEOUT_MS }),
    ]);
  }

  async disconnectContainer(req: DisconnectContainerRequest, actor: Actor | null = null): Promise<DisconnectContainerReply> {
    let endpoints = await this.networks.endpointsOf(req.containerId);
    if (req.network) {
      const network = await this.inspect(req.network);
      endpoints = endpoints.filter((e) => e.networkId === network.id);
      if (endpoints.length === 0 && !req.force) {
        throw new DomainError(ErrorCode.Forbidden, `container ${req.containerId} is not connected to network ${network.name}`);
      }
    }
    const released: string[] = [];
    for (const endpoint of endpoints) {
      await this.teardown(endpoint);
      await this.append(endpoint.networkId, { type: 'ReleaseEndpoint', containerId: req.containerId }, actor);
      released.push(endpoint.networkId);
    }
    return { released };
  }

  /**
   * none/host endpoints, batched by the containers service (bookkeeping only: no address, no veth, no
   * rule): each entry's connect then release, in order. The commands of one network are queued at once,
   * so a batch costs one append per network (one for `docker run --rm` on none: connect and
   * disconnect together).
   */
  async recordLeases(req: RecordLeasesRequest, actor: Actor | null = null): Promise<{ ok: true }> {
    await this.ready();
    const byNetwork = new Map<string, NetworkCommand[]>();
    for (const ref of new Set(req.leases.map((l) => l.network))) {
      const network = this.leaseNetworks.get(ref) ?? (await this.networks.findNetwork(ref));
      if (!network) throw networkNotFound(ref);
      if (network.driver === 'bridge') throw invalid(`${ref} is a bridge network: its leases are allocated by connect-container`);
      this.leaseNetworks.set(ref, { id: network.id, driver: network.driver });
      const commands: NetworkCommand[] = [];
      for (const l of req.leases.filter((x) => x.network === ref)) {
        if (l.connect) {
          const { containerId, containerName } = l;
          commands.push({ type: 'AllocateEndpoint', endpointId: newId(), containerId, containerName, aliases: [], ifname: 'eth0', refuseExisting: false });
        }
        if (l.release) commands.push({ type: 'ReleaseEndpoint', containerId: l.containerId });
      }
      byNetwork.set(network.id, commands);
    }
    try {
      await Promise.all([...byNetwork].map(([id, commands]) => this.commands.handleAll(networkStreamId(id), commands, actor)));
    } finally {
      this.generations.bump();
    }
    return { ok: true };
  }

  /** `POST /networks/{id}/connect`: record for a created container, attach at once for a running one. */
  async connect(req: ConnectNetworkRequest, actor: Actor | null = null): Promise<{ endpoint: NetworkEndpoint }> {
    const network = await this.inspect(req.network);
    if (network.driver === 'host' || network.driver === 'null') {
      throw new DomainError(ErrorCode.Forbidden, `container cannot be disconnected from host network or connected to host network`);
    }
    const { endpoint } = await this.allocate(
      { containerId: req.container.id, containerName: req.container.name, network: network.id, aliases: req.aliases, ipv4: req.ipv4 },
      true,
      actor,
    );
    if (req.container.pid) {
      try {
        await this.executor.run(
          ExecutorJob.NetworkAttachNetns,
          { containerPid: req.container.pid, endpoint },
          { timeoutMs: EXECUTOR_TIMEOUT_MS },
        );
      } catch (e) {
        await this.append(network.id, { type: 'ReleaseEndpoint', containerId: req.container.id }, actor);
        throw e;
      }
    }
    return { endpoint };
  }
}

function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const rel = /^(\d+)(h|m|s)$/.exec(value);
  if (rel) return Date.now() - Number(rel[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[rel[2] as 'h' | 'm' | 's'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(`invalid filter 'until=${value}'`);
  return t;
}
