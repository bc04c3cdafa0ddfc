import type { VolumeView } from '@berth/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toVolumeView, VOLUME_REFS_TABLE, VOLUME_VIEW_TABLE, type VolumeRow } from './projections/volume-view.projection';

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

  /** volume name -> the containers that mount it */
  async references(): Promise<Map<string, string[]>> {
    const rows: { name: string; container_id: string }[] = await this.dataSource.query(
      `SELECT name, container_id FROM ${VOLUME_REFS_TABLE} ORDER BY mounted_at, container_id`,
    );
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(r.name, [...(out.get(r.name) ?? []), r.container_id]);
    return out;
  }

  async referencesOf(name: string): Promise<string[]> {
    const rows: { container_id: string }[] = await this.dataSource.query(
      `SELECT container_id FROM ${VOLUME_REFS_TABLE} WHERE name = $1 ORDER BY mounted_at, container_id`,
      [name],
    );
    return rows.map((r) => r.container_id);
  }

  /** The volumes a container mounts. */
  async mountedBy(containerId: string): Promise<string[]> {
    const rows: { name: string }[] = await this.dataSource.query(
      `SELECT name FROM ${VOLUME_REFS_TABLE} WHERE container_id = $1 ORDER BY name`,
      [containerId],
    );
    return rows.map((r) => r.name);
  }

  async count(): Promise<number> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM ${VOLUME_VIEW_TABLE}`);
    return Number(rows[0]?.n ?? 0);
  }
}
