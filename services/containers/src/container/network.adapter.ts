import {
  type AttachContainerRequest,
  type ConnectContainerReply,
  type ConnectContainerRequest,
  type ContainerEndpointsReply,
  type DisconnectContainerReply,
  type LeaseRecord,
  type NetworkEndpoint,
  NetworkPatterns,
  type NetworkView,
  type RecordLeasesRequest,
} from '@berth/contracts';
import { RpcClient } from '@berth/messaging';
import { Injectable } from '@nestjs/common';

/** attach-container runs executor jobs (publish, one attach per endpoint), 30 s each at most. */
const ATTACH_MS = 120_000;
const QUICK_MS = 60_000;

/**
 * The one place this service asks the network service (request/reply over Redis, like the gateway):
 * leases and published ports are the network service's; the container flow only says when.
 */
@Injectable()
export class NetworkAdapter {
  constructor(private readonly rpc: RpcClient) {}

  inspect(network: string): Promise<NetworkView> {
    return this.rpc.request<NetworkView>(NetworkPatterns.inspect, { network }, { timeoutMs: QUICK_MS });
  }

  /** Allocates (idempotently) the container's endpoint on `req.network`; publish:false leaves ports for start. */
  async connect(req: ConnectContainerRequest): Promise<NetworkEndpoint> {
    return (await this.rpc.request<ConnectContainerReply>(NetworkPatterns.connectContainer, req, { timeoutMs: ATTACH_MS })).endpoint;
  }

  async endpoints(containerId: string): Promise<NetworkEndpoint[]> {
    return (await this.rpc.request<ContainerEndpointsReply>(NetworkPatterns.containerEndpoints, { containerId }, { timeoutMs: QUICK_MS })).endpoints;
  }

  /** Between container.create (pid known) and container.start. */
  async attach(req: AttachContainerRequest): Promise<NetworkEndpoint[]> {
    return (await this.rpc.request<ContainerEndpointsReply>(NetworkPatterns.attachContainer, req, { timeoutMs: ATTACH_MS })).endpoints;
  }

  /** The run's process is gone: its published ports and host veths go (leases stay). */
  async stopped(containerId: string): Promise<void> {
    await this.rpc.request(NetworkPatterns.containerStopped, { containerId }, { timeoutMs: ATTACH_MS });
  }

  /** none/host endpoints' connects and releases, batched. */
  async recordLeases(leases: readonly LeaseRecord[]): Promise<void> {
    const req: RecordLeasesRequest = { leases };
    await this.rpc.request(NetworkPatterns.recordLeases, req, { timeoutMs: QUICK_MS });
  }

  /** Removal: every lease of the container released. */
  async disconnectAll(containerId: string): Promise<string[]> {
    return (
      await this.rpc.request<DisconnectContainerReply>(NetworkPatterns.disconnectContainer, { containerId, force: true }, { timeoutMs: ATTACH_MS })
    ).released;
  }
}
