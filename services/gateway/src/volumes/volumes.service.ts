import { Injectable } from '@nestjs/common';
import {
  VolumePatterns,
  type CreateVolumeRequest,
  type ListVolumesRequest,
  type PruneVolumesReply,
  type PruneVolumesRequest,
  type RemoveVolumeRequest,
  type VolumeView,
} from '@berth/contracts';
import type { Volume, VolumeListResponse, VolumePruneResponse } from '@berth/docker-api';
import { RpcClient } from '@berth/messaging';
import { apiVersionBelow } from '../http/api-version';
import { parseBool, type Filters } from '../http/query-params';
import { toDockerVolume } from './volume.mapper';

/** Volume use cases at the API edge: translate, call the volumes service, translate back. */
@Injectable()
export class VolumesService {
  constructor(private readonly rpc: RpcClient) {}

  async create(request: CreateVolumeRequest): Promise<Volume> {
    return toDockerVolume(await this.rpc.request<VolumeView>(VolumePatterns.create, request));
  }

  async list(filters: Filters): Promise<VolumeListResponse> {
    const request: ListVolumesRequest = { filters };
    const views = await this.rpc.request<VolumeView[]>(VolumePatterns.list, request);
    return { Volumes: views.map(toDockerVolume), Warnings: null };
  }

  async inspect(name: string): Promise<Volume> {
    return toDockerVolume(await this.rpc.request<VolumeView>(VolumePatterns.inspect, { name }));
  }

  async remove(name: string, force: boolean): Promise<void> {
    const request: RemoveVolumeRequest = { name, force };
    await this.rpc.request(VolumePatterns.remove, request);
  }

  /** Before API 1.42 prune removed named volumes too; since then only anonymous ones unless `all`. */
  async prune(filters: Filters, apiVersion: string): Promise<VolumePruneResponse> {
    const { all: allFilter, ...rest } = filters;
    const all = apiVersionBelow(apiVersion, '1.42') || (allFilter ?? []).some((v) => parseBool(v));
    const request: PruneVolumesRequest = { filters: rest, all };
    const reply = await this.rpc.request<PruneVolumesReply>(VolumePatterns.prune, request);
    return { VolumesDeleted: reply.volumesDeleted ?? [], SpaceReclaimed: reply.spaceReclaimed ?? 0 };
  }
}
