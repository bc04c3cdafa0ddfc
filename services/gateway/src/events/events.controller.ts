import { Controller, Get, Req, Res } from '@nestjs/common';
import type { DockerRequest, DockerResponse } from '../http/docker-request';
import { parseFilters, queryString } from '../http/query-params';
import { responseSink } from '../http/response-sink';
import { StreamEventsService } from './stream-events.service';

@Controller()
export class EventsController {
  constructor(private readonly events: StreamEventsService) {}

  /** Headers go out at once (clients block on them), then one JSON object per line. */
  @Get('events')
  async stream(@Req() req: DockerRequest, @Res() res: DockerResponse): Promise<void> {
    const plan = this.events.plan({
      since: queryString(req.query.since),
      until: queryString(req.query.until),
      filters: parseFilters(req.query.filters),
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    await this.events.run(plan, responseSink(req, res));
    if (!res.writableEnded) res.end();
  }
}
