import {
  DomainError,
  ErrorCode,
  hostVethName,
  type EndpointAllocated,
  type EndpointPortsPublished,
  type EndpointReleased,
  type NetworkCreated,
  type NetworkEndpoint,
  type NetworkEvent,
  type PublishedPort,
} from '@berth/contracts';
import { contains, intToIp, ipToInt, macFor, parseCidr, pickAddress } from './ipam';

/** One network's state, folded from its stream `network:<id>` (the IP leases live here). */
export type NetworkState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'present';
      readonly network: NetworkCreated['data'];
      /** endpointId → endpoint (with the container's name) */
      readonly endpoints: Readonly<Record<string, NetworkEndpoint & { containerName: string }>>;
    };

export const initialNetworkState: NetworkState = { status: 'absent' };

export type NetworkCommand =
  | { readonly type: 'CreateNetwork'; readonly data: NetworkCreated['data'] }
  | { readonly type: 'RemoveNetwork'; readonly id: string }
  | {
      readonly type: 'AllocateEndpoint';
      readonly endpointId: string;
      readonly containerId: string;
      readonly containerName: string;
      readonly aliases: string[];
      readonly ipv4?: string;
      readonly ifname: string;
      /** the API's connect refuses a container already connected; the container flow reuses it */
      readonly refuseExisting: boolean;
    }
  | { readonly type: 'PublishPorts'; readonly containerId: string; readonly ports: PublishedPort[] }
  | { readonly type: 'ReleaseEndpoint'; readonly containerId: string };

export const networkStreamId = (id: string) => `network:${id}`;

const forbidden = (message: string) => new DomainError(ErrorCode.Forbidden, message);

export const endpointOf = (state: NetworkState, containerId: string) =>
  state.status === 'present' ? Object.values(state.endpoints).find((e) => e.containerId === containerId) : undefined;

/** Pure: which events a command produces given the current state. */
export function decide(command: NetworkCommand, state: NetworkState): NetworkEvent[] {
  switch (command.type) {
    case 'CreateNetwork': {
      if (state.status === 'present') return [];
      return [{ type: 'NetworkCreated', schemaVersion: 1, data: command.data }];
    }
    case 'RemoveNetwork': {
      if (state.status === 'absent') throw new DomainError(ErrorCode.NotFound, `network ${command.id} not found`);
      const n = state.network;
      if (n.predefined) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
      if (Object.keys(state.endpoints).length > 0) {
        throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      }
      return [{ type: 'NetworkRemoved', schemaVersion: 1, data: { id: n.id, name: n.name, driver: n.driver } }];
    }
    case 'AllocateEndpoint': {
      if (state.status === 'absent') throw new DomainError(ErrorCode.NotFound, `network not found`);
      const n = state.network;
      const existing = endpointOf(state, command.containerId);
      if (existing) {
        if (command.refuseExisting) {
          throw forbidden(`endpoint with name ${command.containerName} already exists in network ${n.name}`);
        }
        return [];
      }
      let endpoint: NetworkEndpoint;
      const base = {
        networkId: n.id,
        networkName: n.name,
        driver: n.driver,
        endpointId: command.endpointId,
        containerId: command.containerId,
        aliases: command.aliases,
        ports: [],
      };
      if (n.driver !== 'bridge') {
        endpoint = { ...base, ip: '', prefixLen: 0, gateway: '', mac: '', bridge: '', ifname: '', hostVeth: '' };
      } else {
        const config = n.ipam[0]!;
        const subnet = parseCidr(config.subnet);
        const gateway = ipToInt(config.gateway);
        const used = new Set(Object.values(state.endpoints).map((e) => ipToInt(e.ip)));
        let ip: number | null;
        if (command.ipv4) {
          ip = ipToInt(command.ipv4);
          if (!contains(subnet, ip) || ip === gateway || ip === subnet.base) {
            throw invalid400(`no configured subnet or ip-range contain the IP address ${command.ipv4}`);
          }
          if (used.has(ip)) throw forbidden(`Address already in use`);
        } else {
          ip = pickAddress(subnet, gateway, used, config.ipRange ? parseCidr(config.ipRange) : undefined);
          if (ip === null) throw new DomainError(ErrorCode.Unavailable, `no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`);
        }
        endpoint = {
          ...base,
          ip: intToIp(ip),
          prefixLen: subnet.prefix,
          gateway: config.gateway,
          mac: macFor(ip),
          bridge: n.bridge,
          ifname: command.ifname,
          hostVeth: hostVethName(command.endpointId),
        };
      }
      const event: EndpointAllocated = {
        type: 'EndpointAllocated',
        schemaVersion: 1,
        data: { endpoint, containerName: command.containerName },
      };
      return [event];
    }
    case 'PublishPorts': {
      const ep = endpointOf(state, command.containerId);
      if (!ep) return [];
      if (JSON.stringify(ep.ports) === JSON.stringify(command.ports)) return [];
      const event: EndpointPortsPublished = {
        type: 'EndpointPortsPublished',
        schemaVersion: 1,
        data: { endpointId: ep.endpointId, containerId: ep.containerId, ports: command.ports },
      };
      return [event];
    }
    case 'ReleaseEndpoint': {
      const ep = endpointOf(state, command.containerId);
      if (!ep || state.status !== 'present') return [];
      const event: EndpointReleased = {
        type: 'EndpointReleased',
        schemaVersion: 1,
        data: {
          endpointId: ep.endpointId,
          containerId: ep.containerId,
          containerName: ep.containerName,
          ip: ep.ip,
          networkName: state.network.name,
          driver: state.network.driver,
        },
      };
      return [event];
    }
  }
}

const invalid400 = (message: string) => new DomainError(ErrorCode.InvalidArgument, message);

/** Pure fold; total over the event union. */
export function evolve(state: NetworkState, event: NetworkEvent): NetworkState {
  switch (event.type) {
    case 'NetworkCreated':
      return { status: 'present', network: event.data, endpoints: {} };
    case 'NetworkRemoved':
      return initialNetworkState;
    case 'EndpointAllocated':
      if (state.status !== 'present') return state;
      return {
        ...state,
        endpoints: {
          ...state.endpoints,
          [event.data.endpoint.endpointId]: { ...event.data.endpoint, containerName: event.data.containerName },
        },
      };
    case 'EndpointPortsPublished': {
      if (state.status !== 'present') return state;
      const ep = state.endpoints[event.data.endpointId];
      if (!ep) return state;
      return { ...state, endpoints: { ...state.endpoints, [ep.endpointId]: { ...ep, ports: event.data.ports } } };
    }
    case 'EndpointReleased': {
      if (state.status !== 'present') return state;
      const { [event.data.endpointId]: _gone, ...rest } = state.endpoints;
      return { ...state, endpoints: rest };
    }
  }
}

export const fold = (events: readonly NetworkEvent[]) => events.reduce(evolve, initialNetworkState);
