import { type ContainersSummary, SystemPatterns } from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { DataSource } from 'typeorm';

/** Transport entry points only. */
@Controller()
export class ContainersController {
  constructor(private readonly dataSource: DataSource) {}

  @MessagePattern(SystemPatterns.summary('containers'))
  async summary(): Promise<ContainersSummary> {
    const rows: { status: string; n: string }[] = await this.dataSource.query(
      `SELECT status, count(*) AS n FROM containers.container_view GROUP BY status`,
    );
    const by = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
    const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
    return { total, running: by('running') + by('restarting'), paused: by('paused'), stopped: total - by('running') - by('restarting') - by('paused') };
  }
}
