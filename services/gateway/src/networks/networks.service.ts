import {
  type ConnectNetworkRequest,
  ContainerPatterns,
  type ContainerView,
  type CreateNetworkReply,
  type CreateNetworkRequest,
  type DisconnectNetworkRequest,
  DomainError,
  ErrorCode,
  invalid,
  type NetworkContainerRef,
  NetworkPatterns,
  type NetworkView,
  type PruneNetworksReply,
} from '@berth/contracts';
import { RpcClient } from '@berth/messaging';
import { Injectable } from '@nestjs/common';
import type { Filters } from '../http/query-params';
import { type DockerNetwork, toDockerNetwork } from './network.mapper';

/** Network use cases at the API edge: translate, call the network service, translate back. */
@Injectable()
export class NetworksService {
  constructor(private readonly rpc: RpcClient) {}

  async list(filters: Filters): Promise<DockerNetwork[]> {
    const views = await this.rpc.request<NetworkView[]>(NetworkPatterns.list, { filters });
    return views.map((v) => toDockerNetwork(v, false));
  }

  async inspect(ref: string): Promise<DockerNetwork> {
    return toDockerNetwork(await this.rpc.request<NetworkView>(NetworkPatterns.inspect, { network: ref }), true);
  }

  async create(request: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    const reply = await this.rpc.request<CreateNetworkReply>(NetworkPatterns.create, request);
    return { Id: reply.id, Warning: reply.warning };
  }

  async remove(ref: string): Promise<void> {
    await this.rpc.request(NetworkPatterns.remove, { network: ref });
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] }> {
    const reply = await this.rpc.request<PruneNetworksReply>(NetworkPatterns.prune, { filters });
    return { NetworksDeleted: reply.networksDeleted ?? [] };
  }

  /**
   * The container as the containers service knows it; its pid when it runs (then the attach is
   * immediate). `connecting`: Docker's refusals for a container on none, host or another's namespace.
   */
  private async container(ref: string, force = false, connecting = false): Promise<NetworkContainerRef> {
    try {
      const view = await this.rpc.request<ContainerView>(ContainerPatterns.inspect, { id: ref });
      const mode = view.hostConfig.NetworkMode ?? '';
      if (connecting && mode === 'none') {
        throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      }
      if (connecting && (mode === 'host' || mode.startsWith('container:'))) {
        throw invalid('container sharing network namespace with another container or host cannot be connected to any other network');
      }
      const running = view.state.status === 'running' || view.state.status === 'paused';
      return { id: view.id, name: view.name, pid: running && view.state.pid > 0 ? view.state.pid : null };
    } catch (e) {
      if (force && e instanceof DomainError && e.code === ErrorCode.NotFound) return { id: ref };
      throw e;
    }
  }

  async connect(network: string, containerRef: string, aliases: string[], ipv4?: string): Promise<void> {
    // the network first, so a missing network is the 404 Docker gives
    const net = await this.rpc.request<NetworkView>(NetworkPatterns.inspect, { network });
    const request: ConnectNetworkRequest = {
      network: net.id,
      container: await this.container(containerRef, false, true),
      aliases,
      ...(ipv4 ? { ipv4 } : {}),
    };
    await this.rpc.request(NetworkPatterns.connect, request);
  }

  async disconnect(network: string, containerRef: string, force: boolean): Promise<void> {
    const net = await this.rpc.request<NetworkView>(NetworkPatterns.inspect, { network });
    const request: DisconnectNetworkRequest = { network: net.id, container: await this.container(containerRef, force), force };
    await this.rpc.request(NetworkPatterns.disconnect, request);
  }
}
