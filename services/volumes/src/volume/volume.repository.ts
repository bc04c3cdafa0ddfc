import type { VolumeView } from '@berth/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toVolumeView, VOLUME_VIEW_TABLE, type VolumeRow } from './projections/volume-view.projection';

/** Reads of the volume_view projection. */
@Injectable()
export class VolumeRepository {
  constructor(private readonly dataSource: DataSource) {}

  async get(name: string): Promise<VolumeView | null> {
    const rows: VolumeRow[] = await this.dataSource.query(`SELECT * FROM ${VOLUME_VIEW_TABLE} WHERE name = $1`, [name]);
    return rows[0] ? toVolumeView(rows[0]) : null;
  }

  async list(): Promise<VolumeView[]> {
    const rows: VolumeRow[] = await this.dataSource.query(`SELECT * FROM ${VOLUME_VIEW_TABLE} ORDER BY name`);
    return rows.map(toVolumeView);
  }

  async count(): Promise<number> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM ${VOLUME_VIEW_TABLE}`);
    return Number(rows[0]?.n ?? 0);
  }
}
