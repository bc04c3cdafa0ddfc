import { invalid } from '@berth/contracts';
import { Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { DockerRequest } from '../http/docker-request';
import { parseFilters } from '../http/query-params';
import { type DockerNetwork, toCreateNetworkRequest } from './network.mapper';
import { NetworksService } from './networks.service';

interface ConnectBody {
  Container?: string;
  Force?: boolean;
  EndpointConfig?: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null;
}

const bodyOf = (req: DockerRequest): ConnectBody => {
  const b = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('invalid JSON: body must be an object');
  const body = b as ConnectBody;
  if (typeof body.Container !== 'string' || !body.Container) throw invalid('container is required');
  return body;
};

@Controller('networks')
export class NetworksController {
  constructor(private readonly networks: NetworksService) {}

  @Get()
  list(@Req() req: DockerRequest): Promise<DockerNetwork[]> {
    return this.networks.list(parseFilters(req.query.filters));
  }

  @Post('create')
  @HttpCode(201)
  create(@Req() req: DockerRequest): Promise<{ Id: string; Warning: string }> {
    return this.networks.create(toCreateNetworkRequest(req.body));
  }

  @Post('prune')
  @HttpCode(200)
  prune(@Req() req: DockerRequest): Promise<{ NetworksDeleted: string[] }> {
    return this.networks.prune(parseFilters(req.query.filters));
  }

  @Get(':id')
  inspect(@Param('id') id: string): Promise<DockerNetwork> {
    return this.networks.inspect(id);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.networks.remove(id);
  }

  @Post(':id/connect')
  @HttpCode(200)
  async connect(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const body = bodyOf(req);
    const aliases = body.EndpointConfig?.Aliases ?? [];
    await this.networks.connect(id, body.Container!, aliases, body.EndpointConfig?.IPAMConfig?.IPv4Address || undefined);
  }

  @Post(':id/disconnect')
  @HttpCode(200)
  async disconnect(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const body = bodyOf(req);
    await this.networks.disconnect(id, body.Container!, body.Force === true);
  }
}
