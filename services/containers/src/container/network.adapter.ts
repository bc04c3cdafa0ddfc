import {
  type AttachContainerRequest,
  type ConnectContainerReply,
  type ConnectContainerRequest,
  type ContainerEndpointsReply,
  type DisconnectContainerReply,
  type NetworkEndpoint,
  NetworkPatterns,
  type NetworkView,
} from '@berth/contracts';
import type { BerthConfig } from '@berth/config';
import { RedisRpcClient } from '@berth/messaging';
import { BERTH_CONFIG } from '@berth/service-kit';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

/** attach-container runs executor jobs (publish, one attach per endpoint), 30 s each at most. */
const ATTACH_MS = 120_000;
const QUICK_MS = 60_000;

/**
 * The one place this service asks the network service (request/reply over Redis, like the gateway):
 * leases and published ports are the network service's; the container flow only says when.
 */
@Injectable()
export class NetworkAdapter implements OnApplicationShutdown {
  private readonly logger = new Logger('network');
  private readonly rpc: RedisRpcClient;

  constructor(@Inject(BERTH_CONFIG) config: BerthConfig) {
    this.rpc = new RedisRpcClient({
      redisUrl: config.redisUrl,
      namespace: config.namespace,
      clientId: `containers-${config.nodeId}-${process.pid}`,
      defaultTimeoutMs: QUICK_MS,
    });
    this.rpc.connect().catch((e: Error) => this.logger.warn(`redis: ${e.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
  }

  inspect(network: string): Promise<NetworkView> {
    return this.rpc.request<NetworkView>(NetworkPatterns.inspect, { network });
  }

  /** Allocates (idempotently) the container's endpoint on `req.network`; publish:false leaves ports for start. */
  async connect(req: ConnectContainerRequest): Promise<NetworkEndpoint> {
    return (await this.rpc.request<ConnectContainerReply>(NetworkPatterns.connectContainer, req, { timeoutMs: ATTACH_MS })).endpoint;
  }

  async endpoints(containerId: string): Promise<NetworkEndpoint[]> {
    return (await this.rpc.request<ContainerEndpointsReply>(NetworkPatterns.containerEndpoints, { containerId })).endpoints;
  }

  /** Between container.create (pid known) and container.start. */
  async attach(req: AttachContainerRequest): Promise<NetworkEndpoint[]> {
    return (await this.rpc.request<ContainerEndpointsReply>(NetworkPatterns.attachContainer, req, { timeoutMs: ATTACH_MS })).endpoints;
  }

  /** The run's process is gone: its published ports and host veths go (leases stay). */
  async stopped(containerId: string): Promise<void> {
    await this.rpc.request(NetworkPatterns.containerStopped, { containerId }, { timeoutMs: ATTACH_MS });
  }

  /** Removal: every lease of the container released. */
  async disconnectAll(containerId: string): Promise<string[]> {
    return (
      await this.rpc.request<DisconnectContainerReply>(NetworkPatterns.disconnectContainer, { containerId, force: true }, { timeoutMs: ATTACH_MS })
    ).released;
  }
}
