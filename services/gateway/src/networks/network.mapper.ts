import { invalid, type CreateNetworkRequest, type NetworkEndpoint, type NetworkView } from '@berth/contracts';

/** Docker's `Network` (GET /networks, GET /networks/{id}). */
export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string; IPRange?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** Docker's `EndpointSettings`, for container inspect's NetworkSettings.Networks[name]. */
export interface DockerEndpointSettings {
  IPAMConfig: { IPv4Address: string } | null;
  Links: null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: null;
  GwPriority: number;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

export function toDockerNetwork(view: NetworkView, withContainers: boolean): DockerNetwork {
  return {
    Name: view.name,
    Id: view.id,
    Created: view.createdAt,
    Scope: view.scope,
    Driver: view.driver,
    EnableIPv4: true,
    EnableIPv6: view.enableIPv6,
    IPAM: {
      Driver: 'default',
      Options: view.predefined ? null : {},
      Config: view.ipam.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, ...(c.ipRange ? { IPRange: c.ipRange } : {}) })),
    },
    Internal: view.internal,
    Attachable: view.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: withContainers
      ? Object.fromEntries(
          Object.entries(view.containers).map(([id, e]) => [
            id,
            {
              Name: e.name,
              EndpointID: e.endpointId,
              MacAddress: e.mac,
              IPv4Address: e.ip ? `${e.ip}/${e.prefixLen}` : '',
              IPv6Address: '',
            },
          ]),
        )
      : {},
    Options: view.options ?? {},
    Labels: view.labels ?? {},
  };
}

/** An endpoint as container inspect shows it (`NetworkSettings.Networks[endpoint.networkName]`). */
export function toDockerEndpointSettings(e: NetworkEndpoint, containerName?: string): DockerEndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: e.aliases.length ? e.aliases : null,
    MacAddress: e.mac,
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: e.networkId,
    EndpointID: e.endpointId,
    Gateway: e.gateway,
    IPAddress: e.ip,
    IPPrefixLen: e.prefixLen,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: e.driver === 'bridge' && e.networkName !== 'bridge' ? [containerName ?? e.containerId.slice(0, 12), ...e.aliases, e.containerId.slice(0, 12)] : null,
  };
}

/** `NetworkSettings.Ports`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}]}`. */
export function toDockerPortMap(endpoints: readonly NetworkEndpoint[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const e of endpoints) {
    for (const p of e.ports) {
      (out[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    }
  }
  return out;
}

const isStringMap = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/** `POST /networks/create` body → the contract; shape errors are 400s. */
export function toCreateNetworkRequest(body: unknown): CreateNetworkRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('invalid JSON: body must be an object');
  const b = body as Record<string, unknown>;
  if (typeof b.Name !== 'string' || b.Name === '') throw invalid('network name must not be empty');
  if (b.Driver !== undefined && b.Driver !== null && typeof b.Driver !== 'string') throw invalid('invalid JSON: Driver must be a string');
  for (const field of ['Options', 'Labels'] as const) {
    if (b[field] !== undefined && b[field] !== null && !isStringMap(b[field])) {
      throw invalid(`invalid JSON: json: cannot unmarshal into Go struct field CreateRequest.${field} of type map[string]string`);
    }
  }
  const ipam = (b.IPAM ?? null) as { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null } | null;
  return {
    name: b.Name,
    ...(b.Driver ? { driver: b.Driver as string } : {}),
    internal: b.Internal === true,
    attachable: b.Attachable === true,
    enableIPv6: b.EnableIPv6 === true,
    ...(ipam
      ? {
          ipam: {
            ...(ipam.Driver ? { driver: ipam.Driver } : {}),
            config: (ipam.Config ?? []).map((c) => ({
              ...(c.Subnet ? { subnet: c.Subnet } : {}),
              ...(c.Gateway ? { gateway: c.Gateway } : {}),
              ...(c.IPRange ? { ipRange: c.IPRange } : {}),
            })),
          },
        }
      : {}),
    options: (b.Options as Record<string, string> | undefined) ?? {},
    labels: (b.Labels as Record<string, string> | undefined) ?? {},
  };
}
