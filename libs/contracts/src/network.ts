import { createHash } from 'node:crypto';
import type { DomainEvent } from './events';

/**
 * The network service's request/reply patterns.
 *
 * API patterns (gateway → network): create, list, inspect, remove, prune, connect, disconnect.
 * Container-flow patterns (containers → network):
 *   - `connectContainer` at container start, once per network the container is on (idempotent: an
 *     existing endpoint for the pair is returned as is). Allocates the IP lease (event-sourced) and,
 *     when `publish` is not false, publishes the port bindings through the executor (HostPort "0" or
 *     "" gets a free host port, returned in `endpoint.ports`). Then the start path calls the executor
 *     function `attachNetns(containerPid, endpoint)` (executor-native/src/host/network) in-process
 *     between berth-init's "ready" and "go", or enqueues `ExecutorJob.NetworkAttachNetns`.
 *   - `containerEndpoints` lists every endpoint of a container (also those recorded by
 *     `POST /networks/{id}/connect` while it was only created): attach each of them at start.
 *   - `containerStopped` after the container's process is gone: unpublishes its ports and removes the
 *     host-side veths; leases stay (inspect keeps showing the networks).
 *   - `attachContainer` is the one-call alternative for the start path, between `container.create`
 *     (pid known) and `container.start`: connect-container for `primary` (if given), then the executor
 *     attaches every endpoint of the container into /proc/<pid>/ns/net and publishes its ports.
 *   - `disconnectContainer` releases leases, removes rules and veths: one network, or all of them when
 *     `network` is omitted (container removal).
 */
export const NetworkPatterns = {
  create: 'network.create',
  list: 'network.list',
  inspect: 'network.inspect',
  remove: 'network.remove',
  prune: 'network.prune',
  connect: 'network.connect',
  disconnect: 'network.disconnect',
  connectContainer: 'network.connect-container',
  disconnectContainer: 'network.disconnect-container',
  containerEndpoints: 'network.container-endpoints',
  containerStopped: 'network.container-stopped',
  attachContainer: 'network.attach-container',
  recordLeases: 'network.record-leases',
} as const;

export type NetworkDriver = 'bridge' | 'host' | 'null';
export type PortProto = 'tcp' | 'udp' | 'sctp';

/** Docker's `PortBindings` value shape: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` */
export type DockerPortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null>;
/** Docker's `ExposedPorts` shape: `{"80/tcp": {}}` */
export type DockerExposedPorts = Record<string, unknown>;

export interface PublishedPort {
  readonly containerPort: number;
  readonly proto: PortProto;
  /** '' or '0.0.0.0' = every host address (IPv4) */
  readonly hostIp: string;
  readonly hostPort: number;
}

/** One container's attachment to one network. For `host`/`null` drivers ip/bridge/mac are ''. */
export interface NetworkEndpoint {
  readonly networkId: string;
  readonly networkName: string;
  readonly driver: NetworkDriver;
  readonly endpointId: string;
  readonly containerId: string;
  readonly ip: string;
  readonly prefixLen: number;
  readonly gateway: string;
  readonly mac: string;
  /** host bridge interface name, e.g. `berth0`, `br-0123456789ab` */
  readonly bridge: string;
  /** interface name inside the container: eth0, eth1, … */
  readonly ifname: string;
  /** host side veth name (deterministic from endpointId) */
  readonly hostVeth: string;
  readonly aliases: string[];
  readonly ports: PublishedPort[];
}

export interface IpamConfig {
  readonly subnet: string;
  readonly gateway: string;
  readonly ipRange?: string;
}

export interface NetworkView {
  readonly id: string;
  readonly name: string;
  readonly driver: NetworkDriver;
  readonly scope: 'local';
  /** RFC 3339 */
  readonly createdAt: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly enableIPv6: boolean;
  readonly ipam: IpamConfig[];
  readonly options: Record<string, string>;
  readonly labels: Record<string, string>;
  /** `bridge`, `host`, `none` */
  readonly predefined: boolean;
  /** host bridge interface name ('' for host/null) */
  readonly bridge: string;
  /** containerId → endpoint */
  readonly containers: Record<string, NetworkEndpoint & { name: string }>;
}

export interface CreateNetworkRequest {
  readonly name: string;
  readonly driver?: string;
  readonly internal?: boolean;
  readonly attachable?: boolean;
  readonly enableIPv6?: boolean;
  readonly ipam?: { driver?: string; config?: { subnet?: string; gateway?: string; ipRange?: string }[] };
  readonly options?: Record<string, string>;
  readonly labels?: Record<string, string>;
}
export interface CreateNetworkReply {
  readonly id: string;
  readonly warning: string;
}
export interface ListNetworksRequest {
  readonly filters?: Record<string, string[]>;
}
export interface InspectNetworkRequest {
  /** name, full id or unique id prefix */
  readonly network: string;
}
export interface RemoveNetworkRequest {
  readonly network: string;
}
export interface PruneNetworksRequest {
  readonly filters?: Record<string, string[]>;
}
export interface PruneNetworksReply {
  readonly networksDeleted: string[];
}

/** The container as the caller resolved it (the gateway asks the containers service first). */
export interface NetworkContainerRef {
  readonly id: string;
  readonly name?: string;
  /** pid of the container's init when running: the network service then attaches at once */
  readonly pid?: number | null;
}

/** `POST /networks/{id}/connect` */
export interface ConnectNetworkRequest {
  readonly network: string;
  readonly container: NetworkContainerRef;
  readonly aliases?: string[];
  readonly ipv4?: string;
}
/** `POST /networks/{id}/disconnect` */
export interface DisconnectNetworkRequest {
  readonly network: string;
  readonly container: NetworkContainerRef;
  readonly force?: boolean;
}

export interface ConnectContainerRequest {
  readonly containerId: string;
  readonly containerName?: string;
  /** name, id or id prefix; 'default' means 'bridge' */
  readonly network: string;
  readonly aliases?: string[];
  readonly ipv4?: string;
  readonly portBindings?: DockerPortBindings;
  readonly exposedPorts?: DockerExposedPorts;
  readonly publishAll?: boolean;
  /** publish the port bindings now (default true) */
  readonly publish?: boolean;
}
export interface ConnectContainerReply {
  readonly endpoint: NetworkEndpoint;
}
export interface DisconnectContainerRequest {
  readonly containerId: string;
  /** omitted: every network of the container */
  readonly network?: string;
  readonly force?: boolean;
}
export interface DisconnectContainerReply {
  readonly released: string[];
}
/** A none/host endpoint (no address, no veth): its connect and/or its release, to record. */
export interface LeaseRecord {
  readonly containerId: string;
  readonly containerName: string;
  /** `none` or `host` (a name or id of a null/host network) */
  readonly network: string;
  readonly connect: boolean;
  readonly release: boolean;
}
/** Batched by the containers service: one RPC, one append per network. */
export interface RecordLeasesRequest {
  readonly leases: readonly LeaseRecord[];
}
export interface ContainerEndpointsRequest {
  readonly containerId: string;
}
export interface ContainerEndpointsReply {
  readonly endpoints: NetworkEndpoint[];
}
export interface AttachContainerRequest {
  readonly containerId: string;
  readonly containerName?: string;
  readonly pid: number;
  /** the network of HostConfig.NetworkMode (omit for none/host/container:x) */
  readonly primary?: Omit<ConnectContainerRequest, 'containerId' | 'containerName'>;
}
export interface ContainerStoppedRequest {
  readonly containerId: string;
}

// ---- events (stream `network:<id>`) ----
export type NetworkCreated = DomainEvent<
  'NetworkCreated',
  {
    id: string;
    name: string;
    driver: NetworkDriver;
    bridge: string;
    ipam: IpamConfig[];
    internal: boolean;
    attachable: boolean;
    enableIPv6: boolean;
    options: Record<string, string>;
    labels: Record<string, string>;
    predefined: boolean;
  }
>;
export type NetworkRemoved = DomainEvent<'NetworkRemoved', { id: string; name: string; driver?: NetworkDriver }>;
export type EndpointAllocated = DomainEvent<
  'EndpointAllocated',
  { endpoint: NetworkEndpoint; containerName: string }
>;
export type EndpointPortsPublished = DomainEvent<
  'EndpointPortsPublished',
  { endpointId: string; containerId: string; ports: PublishedPort[] }
>;
export type EndpointReleased = DomainEvent<
  'EndpointReleased',
  { endpointId: string; containerId: string; containerName: string; ip: string; networkName?: string; driver?: NetworkDriver }
>;
export type NetworkEvent = NetworkCreated | NetworkRemoved | EndpointAllocated | EndpointPortsPublished | EndpointReleased;

// ---- naming shared by the service and the executor ----

/** nft table (family inet) holding every rule of one Berth namespace: one `delete table` cleans up. */
export const networkNftTable = (namespace: string) => `berth_${namespace.replace(/[^a-z0-9_]/g, '_')}`;

/** The default bridge: `berth0` in the default namespace, `bt<hash8>0` elsewhere (never touches berth0). */
export const defaultBridgeName = (namespace: string) =>
  namespace === 'berth' ? 'berth0' : `bt${shortHash(namespace, 8)}0`;

/** User-defined bridges: `br-<12 hex of id>` in the default namespace, `bt<hash4>-<8 hex>` elsewhere. */
export const userBridgeName = (namespace: string, networkId: string) =>
  namespace === 'berth' ? `br-${networkId.slice(0, 12)}` : `bt${shortHash(namespace, 4)}-${networkId.slice(0, 8)}`;

/** Host-side veth of an endpoint: `vb<10 hex>` (≤ 15 chars, IFNAMSIZ). */
export const hostVethName = (endpointId: string) => `vb${endpointId.slice(0, 10)}`;

const shortHash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);
