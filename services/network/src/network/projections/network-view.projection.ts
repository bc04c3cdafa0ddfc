import type { EventEnvelope, NetworkEndpoint, NetworkEvent, NetworkView } from '@berth/contracts';
import type { Projection } from '@berth/event-store';
import type { EntityManager } from 'typeorm';

export const NETWORK_VIEW_TABLE = 'network.network_view';
export const ENDPOINT_VIEW_TABLE = 'network.endpoint_view';

/** The read models `docker network ls/inspect` and container inspect answer from. */
export const networkViewProjection: Projection = {
  name: 'network_view',
  tables: [NETWORK_VIEW_TABLE, ENDPOINT_VIEW_TABLE],
  handles: ['NetworkCreated', 'NetworkRemoved', 'EndpointAllocated', 'EndpointPortsPublished', 'EndpointReleased'],
  async apply(manager: EntityManager, envelope: EventEnvelope): Promise<void> {
    const event = { type: envelope.type, data: envelope.data } as NetworkEvent;
    switch (event.type) {
      case 'NetworkCreated': {
        const d = event.data;
        await manager.query(
          `INSERT INTO ${NETWORK_VIEW_TABLE} (id, name, driver, created_at, bridge, ipam, options, labels, internal, attachable, enable_ipv6, predefined)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            d.id,
            d.name,
            d.driver,
            envelope.occurredAt,
            d.bridge,
            JSON.stringify(d.ipam),
            JSON.stringify(d.options),
            JSON.stringify(d.labels),
            d.internal,
            d.attachable,
            d.enableIPv6,
            d.predefined,
          ],
        );
        return;
      }
      case 'NetworkRemoved':
        await manager.query(`DELETE FROM ${ENDPOINT_VIEW_TABLE} WHERE network_id = $1`, [event.data.id]);
        await manager.query(`DELETE FROM ${NETWORK_VIEW_TABLE} WHERE id = $1`, [event.data.id]);
        return;
      case 'EndpointAllocated':
      case 'EndpointPortsPublished':
      case 'EndpointReleased': {
        const params: unknown[] = [];
        const param = (value: unknown) => {
          params.push(value);
          return `$${params.length}`;
        };
        await manager.query(endpointWrite(event, param, 'TRUE', envelope.occurredAt), params);
        return;
      }
    }
  },
  /**
   * Lease events (connects, published ports, releases: the appends of the container flow and the
   * batches of record-leases) inside the append's own statement: their net write per endpoint, one
   * statement each (an endpoint allocated and released in one append writes nothing). Network create
   * and remove take the transaction path.
   */
  appendStatement(events, _hint, param, guard) {
    const net = new Map<string, EndpointEvent | null>();
    for (const pending of events) {
      const event = { type: pending.type, data: pending.data } as NetworkEvent;
      if (event.type !== 'EndpointAllocated' && event.type !== 'EndpointPortsPublished' && event.type !== 'EndpointReleased') return null;
      const id = event.type === 'EndpointAllocated' ? event.data.endpoint.endpointId : event.data.endpointId;
      const before = net.get(id);
      const allocated = before?.type === 'EndpointAllocated' ? before : null;
      if (event.type === 'EndpointReleased') net.set(id, allocated || before === null ? null : event);
      else if (event.type === 'EndpointPortsPublished' && allocated) {
        net.set(id, { ...allocated, data: { ...allocated.data, endpoint: { ...allocated.data.endpoint, ports: event.data.ports } } });
      } else net.set(id, event);
    }
    // now(): the statement's transaction time, which is also the event rows' occurred_at
    return [...net.values()].filter((e): e is EndpointEvent => e !== null).map((e) => endpointWrite(e, param, guard, null));
  },
};

type EndpointEvent = Extract<NetworkEvent, { type: 'EndpointAllocated' | 'EndpointPortsPublished' | 'EndpointReleased' }>;

/**
 * endpoint_view's write for one lease event, on the transaction path (apply) and inside an append's
 * statement (appendStatement): `param` binds a value, `guard` must hold for the write to happen,
 * `createdAt` is the allocation's time (null: the statement's now()).
 */
function endpointWrite(event: EndpointEvent, param: (value: unknown) => string, guard: string, createdAt: string | null): string {
  switch (event.type) {
    case 'EndpointAllocated': {
      const e = event.data.endpoint;
      return `INSERT INTO ${ENDPOINT_VIEW_TABLE} (endpoint_id, network_id, container_id, container_name, endpoint, created_at)
        SELECT ${param(e.endpointId)}::text, ${param(e.networkId)}::text, ${param(e.containerId)}::text,
          ${param(event.data.containerName)}::text, ${param(JSON.stringify(e))}::jsonb, ${createdAt === null ? 'now()' : `${param(createdAt)}::timestamptz`}
        WHERE ${guard}`;
    }
    case 'EndpointPortsPublished':
      return `UPDATE ${ENDPOINT_VIEW_TABLE} SET endpoint = jsonb_set(endpoint, '{ports}', ${param(JSON.stringify(event.data.ports))}::jsonb)
        WHERE endpoint_id = ${param(event.data.endpointId)}::text AND ${guard}`;
    case 'EndpointReleased':
      return `DELETE FROM ${ENDPOINT_VIEW_TABLE} WHERE endpoint_id = ${param(event.data.endpointId)}::text AND ${guard}`;
  }
}

export interface NetworkRow {
  id: string;
  name: string;
  driver: NetworkView['driver'];
  created_at: Date;
  bridge: string;
  ipam: NetworkView['ipam'];
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  enable_ipv6: boolean;
  predefined: boolean;
}
export interface EndpointRow {
  endpoint_id: string;
  network_id: string;
  container_id: string;
  container_name: string;
  endpoint: NetworkEndpoint;
  created_at: Date;
}

export const toNetworkView = (row: NetworkRow, endpoints: readonly EndpointRow[]): NetworkView => ({
  id: row.id,
  name: row.name,
  driver: row.driver,
  scope: 'local',
  createdAt: row.created_at.toISOString(),
  internal: row.internal,
  attachable: row.attachable,
  enableIPv6: row.enable_ipv6,
  ipam: row.ipam,
  options: row.options,
  labels: row.labels,
  predefined: row.predefined,
  bridge: row.bridge,
  containers: Object.fromEntries(
    endpoints.filter((e) => e.network_id === row.id).map((e) => [e.container_id, { ...e.endpoint, name: e.container_name }]),
  ),
});
