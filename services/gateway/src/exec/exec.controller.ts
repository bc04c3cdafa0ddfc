import { DomainError, invalid } from '@berth/contracts';
import { Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ContainersService } from '../containers/containers.service';
import { HijackService } from '../containers/hijack.service';
import type { DockerRequest } from '../http/docker-request';
import { statusForCode } from '../http/error-status';
import { parseInteger } from '../http/query-params';
import { sendDockerError } from '../http/send-error';

/** `/exec/*`. Start with `Upgrade` is served by HijackService from the raw servers' upgrade event. */
@Controller('exec')
export class ExecController {
  constructor(
    private readonly containers: ContainersService,
    private readonly hijack: HijackService,
  ) {}

  @Get(':id/json')
  inspect(@Param('id') id: string) {
    return this.containers.execInspect(id);
  }

  @Post(':id/resize')
  @HttpCode(200)
  async resize(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const h = parseInteger(req.query.h, 'h') ?? 0;
    const w = parseInteger(req.query.w, 'w') ?? 0;
    if (h < 0 || w < 0) throw invalid('invalid resize dimensions');
    await this.containers.execResize(id, h, w);
  }

  /** dockerode starts exec without Upgrade and still expects the connection taken over. */
  @Post(':id/start')
  async start(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    try {
      await this.hijack.execStart(id, req.body, req.socket, Buffer.alloc(0), false);
    } catch (e) {
      const err = DomainError.from(e);
      sendDockerError(res, statusForCode(err.code), err.message);
    }
  }
}
