import { Controller, Get, Head, Req, Res } from '@nestjs/common';
import type { SystemInfo, SystemVersion } from '@berth/docker-api';
import type { DockerRequest, DockerResponse } from '../http/docker-request';
import { SystemInfoService } from './system-info.service';
import { VersionService } from './version.service';

@Controller()
export class SystemController {
  constructor(
    private readonly versions: VersionService,
    private readonly infos: SystemInfoService,
  ) {}

  // HEAD first: express would otherwise hand HEAD to the GET route.
  @Head('_ping')
  pingHead(@Res() res: DockerResponse): void {
    writePing(res, '');
  }

  @Get('_ping')
  ping(@Req() req: DockerRequest, @Res() res: DockerResponse): void {
    writePing(res, req.method === 'HEAD' ? '' : 'OK');
  }

  @Get('version')
  version(): SystemVersion {
    return this.versions.version();
  }

  @Get('info')
  info(): Promise<SystemInfo> {
    return this.infos.info();
  }
}

/** dockerd's ping: these headers exactly, `OK` for GET and an empty body for HEAD. */
function writePing(res: DockerResponse, body: string): void {
  res.writeHead(200, {
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
