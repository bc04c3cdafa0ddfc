import { type CountSummary, SystemPatterns } from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { DataSource } from 'typeorm';

/** Transport entry points only. */
@Controller()
export class NetworkController {
  constructor(private readonly dataSource: DataSource) {}

  @MessagePattern(SystemPatterns.summary('network'))
  async summary(): Promise<CountSummary> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM network.network_view`);
    return { count: Number(rows[0]?.n ?? 0) };
  }
}
