import {
  type AttachContainerRequest,
  type ConnectContainerReply,
  type ConnectContainerRequest,
  type ConnectNetworkRequest,
  type ContainerEndpointsReply,
  type ContainerEndpointsRequest,
  type ContainerStoppedRequest,
  type CountSummary,
  type CreateNetworkReply,
  type CreateNetworkRequest,
  type DisconnectContainerReply,
  type DisconnectContainerRequest,
  type DisconnectNetworkRequest,
  GenerationPatterns,
  type GenerationReply,
  type InspectNetworkRequest,
  type ListNetworksRequest,
  NetworkPatterns,
  type NetworkView,
  type PruneNetworksReply,
  type PruneNetworksRequest,
  type RecordLeasesRequest,
  type RemoveNetworkRequest,
  SystemPatterns,
} from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { NetworksService } from './network/network.service';

/** Transport entry points only: decode and delegate. */
@Controller()
export class NetworkController {
  constructor(private readonly networks: NetworksService) {}

  @MessagePattern(NetworkPatterns.create)
  create(@Payload() req: CreateNetworkRequest): Promise<CreateNetworkReply> {
    return this.networks.create(req);
  }

  @MessagePattern(GenerationPatterns.network)
  generation(): GenerationReply {
    return { generation: this.networks.generation };
  }

  @MessagePattern(NetworkPatterns.list)
  list(@Payload() req: ListNetworksRequest): Promise<NetworkView[]> {
    return this.networks.list(req?.filters ?? {});
  }

  @MessagePattern(NetworkPatterns.inspect)
  inspect(@Payload() req: InspectNetworkRequest): Promise<NetworkView> {
    return this.networks.inspect(req.network);
  }

  @MessagePattern(NetworkPatterns.remove)
  async remove(@Payload() req: RemoveNetworkRequest): Promise<{ ok: true }> {
    await this.networks.remove(req.network);
    return { ok: true };
  }

  @MessagePattern(NetworkPatterns.prune)
  prune(@Payload() req: PruneNetworksRequest): Promise<PruneNetworksReply> {
    return this.networks.prune(req ?? {});
  }

  @MessagePattern(NetworkPatterns.connect)
  connect(@Payload() req: ConnectNetworkRequest): Promise<ConnectContainerReply> {
    return this.networks.connect(req);
  }

  @MessagePattern(NetworkPatterns.disconnect)
  disconnect(@Payload() req: DisconnectNetworkRequest): Promise<DisconnectContainerReply> {
    return this.networks.disconnectContainer({ containerId: req.container.id, network: req.network, force: req.force });
  }

  @MessagePattern(NetworkPatterns.connectContainer)
  connectContainer(@Payload() req: ConnectContainerRequest): Promise<ConnectContainerReply> {
    return this.networks.connectContainer(req);
  }

  @MessagePattern(NetworkPatterns.attachContainer)
  attachContainer(@Payload() req: AttachContainerRequest): Promise<ContainerEndpointsReply> {
    return this.networks.attachContainer(req);
  }

  @MessagePattern(NetworkPatterns.disconnectContainer)
  disconnectContainer(@Payload() req: DisconnectContainerRequest): Promise<DisconnectContainerReply> {
    return this.networks.disconnectContainer(req);
  }

  @MessagePattern(NetworkPatterns.containerEndpoints)
  containerEndpoints(@Payload() req: ContainerEndpointsRequest): Promise<ContainerEndpointsReply> {
    return this.networks.containerEndpoints(req.containerId);
  }

  @MessagePattern(NetworkPatterns.recordLeases)
  recordLeases(@Payload() req: RecordLeasesRequest): Promise<{ ok: true }> {
    return this.networks.recordLeases(req);
  }

  @MessagePattern(NetworkPatterns.containerStopped)
  containerStopped(@Payload() req: ContainerStoppedRequest): Promise<{ ok: true }> {
    return this.networks.containerStopped(req.containerId);
  }

  @MessagePattern(SystemPatterns.summary('network'))
  async summary(): Promise<CountSummary> {
    return { count: await this.networks.count() };
  }
}
