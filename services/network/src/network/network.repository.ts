import type { NetworkEndpoint, NetworkView } from '@berth/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  ENDPOINT_VIEW_TABLE,
  type EndpointRow,
  NETWORK_VIEW_TABLE,
  type NetworkRow,
  toNetworkView,
} from './projections/network-view.projection';

/** Reads of the network_view / endpoint_view projections. */
@Injectable()
export class NetworkRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(): Promise<NetworkView[]> {
    const rows: NetworkRow[] = await this.dataSource.query(`SELECT * FROM ${NETWORK_VIEW_TABLE} ORDER BY created_at, name`);
    const eps: EndpointRow[] = await this.dataSource.query(`SELECT * FROM ${ENDPOINT_VIEW_TABLE} ORDER BY created_at`);
    return rows.map((r) => toNetworkView(r, eps));
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. */
  async find(ref: string): Promise<NetworkView | null> {
    const rows: NetworkRow[] = await this.dataSource.query(
      `SELECT * FROM ${NETWORK_VIEW_TABLE} WHERE id = $1 OR name = $1 OR id LIKE $2 ORDER BY (id = $1) DESC, (name = $1) DESC`,
      [ref, `${ref.replace(/[%_\\]/g, '')}%`],
    );
    if (rows.length === 0) return null;
    const exact = rows[0]!.id === ref || rows[0]!.name === ref;
    if (!exact && rows.length > 1) return null;
    const eps: EndpointRow[] = await this.dataSource.query(`SELECT * FROM ${ENDPOINT_VIEW_TABLE} WHERE network_id = $1 ORDER BY created_at`, [
      rows[0]!.id,
    ]);
    return toNetworkView(rows[0]!, eps);
  }

  /** find() without the endpoints (a lease only needs the network's id and driver). */
  async findNetwork(ref: string): Promise<Pick<NetworkView, 'id' | 'name' | 'driver'> | null> {
    const rows: Pick<NetworkRow, 'id' | 'name' | 'driver'>[] = await this.dataSource.query(
      `SELECT id, name, driver FROM ${NETWORK_VIEW_TABLE} WHERE id = $1 OR name = $1 OR id LIKE $2 ORDER BY (id = $1) DESC, (name = $1) DESC`,
      [ref, `${ref.replace(/[%_\\]/g, '')}%`],
    );
    if (rows.length === 0) return null;
    const exact = rows[0]!.id === ref || rows[0]!.name === ref;
    if (!exact && rows.length > 1) return null;
    return { id: rows[0]!.id, name: rows[0]!.name, driver: rows[0]!.driver };
  }

  async endpointsOf(containerId: string): Promise<NetworkEndpoint[]> {
    const eps: EndpointRow[] = await this.dataSource.query(
      `SELECT * FROM ${ENDPOINT_VIEW_TABLE} WHERE container_id = $1 ORDER BY created_at, endpoint_id`,
      [containerId],
    );
    return eps.map((e) => e.endpoint);
  }

  async count(): Promise<number> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM ${NETWORK_VIEW_TABLE}`);
    return Number(rows[0]?.n ?? 0);
  }
}
