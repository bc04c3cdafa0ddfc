import {
  type CountSummary,
  type CreateVolumeRequest,
  type ListVolumesRequest,
  type MountVolumesRequest,
  type ReleaseVolumesReply,
  type ReleaseVolumesRequest,
  type PruneVolumesReply,
  type PruneVolumesRequest,
  type RemoveVolumeRequest,
  SystemPatterns,
  VolumePatterns,
  type VolumeView,
} from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { VolumesService } from './volumes.service';

/** Transport entry points only: decode and delegate. */
@Controller()
export class VolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @MessagePattern(VolumePatterns.create)
  create(@Payload() req: CreateVolumeRequest): Promise<VolumeView> {
    return this.volumes.create(req ?? {});
  }

  @MessagePattern(VolumePatterns.list)
  list(@Payload() req: ListVolumesRequest): Promise<VolumeView[]> {
    return this.volumes.list(req?.filters ?? {});
  }

  @MessagePattern(VolumePatterns.inspect)
  inspect(@Payload() req: { name: string }): Promise<VolumeView> {
    return this.volumes.inspect(req.name);
  }

  @MessagePattern(VolumePatterns.remove)
  async remove(@Payload() req: RemoveVolumeRequest): Promise<{ ok: true }> {
    await this.volumes.remove(req);
    return { ok: true };
  }

  @MessagePattern(VolumePatterns.prune)
  prune(@Payload() req: PruneVolumesRequest): Promise<PruneVolumesReply> {
    return this.volumes.prune(req ?? {});
  }

  @MessagePattern(VolumePatterns.mount)
  mount(@Payload() req: MountVolumesRequest): Promise<{ ok: true }> {
    return this.volumes.mount(req);
  }

  @MessagePattern(VolumePatterns.release)
  release(@Payload() req: ReleaseVolumesRequest): Promise<ReleaseVolumesReply> {
    return this.volumes.release(req);
  }

  @MessagePattern(SystemPatterns.summary('volumes'))
  async summary(): Promise<CountSummary> {
    return { count: await this.volumes.count() };
  }
}
