import { type ImagesSummary, SystemPatterns } from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { DataSource } from 'typeorm';

/** Transport entry points only. */
@Controller()
export class ImagesController {
  constructor(private readonly dataSource: DataSource) {}

  @MessagePattern(SystemPatterns.summary('images'))
  async summary(): Promise<ImagesSummary> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM images.image_view`);
    return { images: Number(rows[0]?.n ?? 0) };
  }
}
