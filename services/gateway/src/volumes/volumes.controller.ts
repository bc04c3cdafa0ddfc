import { Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { Volume, VolumeListResponse, VolumePruneResponse } from '@berth/docker-api';
import type { DockerRequest } from '../http/docker-request';
import { parseBool, parseFilters } from '../http/query-params';
import { toCreateVolumeRequest } from './volume.mapper';
import { VolumesService } from './volumes.service';

@Controller('volumes')
export class VolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @Get()
  list(@Req() req: DockerRequest): Promise<VolumeListResponse> {
    return this.volumes.list(parseFilters(req.query.filters));
  }

  @Post('create')
  @HttpCode(201)
  create(@Req() req: DockerRequest): Promise<Volume> {
    return this.volumes.create(toCreateVolumeRequest(req.body));
  }

  @Post('prune')
  @HttpCode(200)
  prune(@Req() req: DockerRequest): Promise<VolumePruneResponse> {
    return this.volumes.prune(parseFilters(req.query.filters), req.apiVersion);
  }

  @Get(':name')
  inspect(@Param('name') name: string): Promise<Volume> {
    return this.volumes.inspect(name);
  }

  @Delete(':name')
  @HttpCode(204)
  async remove(@Param('name') name: string, @Req() req: DockerRequest): Promise<void> {
    await this.volumes.remove(name, parseBool(req.query.force));
  }
}
