import { Injectable } from '@nestjs/common';
import type { EventType } from '@berth/docker-api';
import { DataSource } from 'typeorm';
import type { ContainerAttributes } from '../containers/container-events';
import type { DockerEventRecord } from './docker-event';

/** Postgres NOTIFY channel carrying the event id of every newly recorded Docker event. */
export const DOCKER_EVENTS_CHANNEL = 'gateway_docker_events';

interface Row {
  event_id: string;
  time_nano: string;
  type: string;
  action: string;
  actor_id: string;
  attributes: Record<string, string>;
  scope: string;
  service: string;
  position: string;
  recorded_at: Date;
}

export interface HistoryPage {
  readonly sinceNano: bigint | null;
  readonly untilNano: bigint | null;
  readonly types: string[] | null;
  /** Keyset cursor: rows strictly after (timeNano, eventId). */
  readonly after: { timeNano: bigint; eventId: string } | null;
  readonly limit: number;
}

export interface StoredDockerEvent extends DockerEventRecord {
  readonly recordedAt: Date;
}

const COLUMNS = 'event_id, time_nano, type, action, actor_id, attributes, scope, service, position, recorded_at';

@Injectable()
export class DockerEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records the events once each (redelivery is a no-op), in order, in one statement, and notifies
   * listeners of the new ones in the same statement, so each notification is sent exactly when its row
   * commits; returns how many were new.
   */
  async recordAll(events: readonly DockerEventRecord[]): Promise<number> {
    // A redelivered entry can repeat an id within one read: once is enough.
    const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
    if (unique.length === 0) return 0;
    const params: unknown[] = [];
    const rows = unique.map((event) => {
      const at = params.length;
      params.push(
        event.eventId,
        event.timeNano.toString(),
        event.type,
        event.action,
        event.actorId,
        JSON.stringify(event.attributes),
        event.scope,
        event.service,
        event.position,
      );
      return `($${at + 1}::uuid, $${at + 2}::bigint, $${at + 3}::text, $${at + 4}::text, $${at + 5}::text, $${at + 6}::jsonb, $${at + 7}::text, $${at + 8}::text, $${at + 9}::bigint, ${at})`;
    });
    const inserted = (await this.dataSource.query(
      `WITH v (event_id, time_nano, type, action, actor_id, attributes, scope, service, position, ord) AS (VALUES ${rows.join(', ')}),
       inserted AS (
         INSERT INTO gateway.docker_events (event_id, time_nano, type, action, actor_id, attributes, scope, service, position)
         SELECT event_id, time_nano, type, action, actor_id, attributes, scope, service, position FROM v ORDER BY ord
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id, type
       )
       SELECT pg_notify('${DOCKER_EVENTS_CHANNEL}', inserted.type || ':' || inserted.event_id::text)
       FROM inserted JOIN v USING (event_id) ORDER BY v.ord`,
      params,
    )) as unknown[];
    return inserted.length;
  }

  /** name, image, labels of a container as its ContainerCreated/ContainerRenamed events said */
  async containerAttributes(containerId: string): Promise<ContainerAttributes | null> {
    const rows = (await this.dataSource.query(
      `SELECT name, image, labels FROM gateway.container_attributes WHERE container_id = $1`,
      [containerId],
    )) as { name: string; image: string; labels: Record<string, string> | null }[];
    return rows[0] ? { name: rows[0].name, image: rows[0].image, labels: rows[0].labels ?? {} } : null;
  }

  /** One upsert for all of them (one row per container: the map holds each id once). */
  async saveContainerAttributesAll(all: ReadonlyMap<string, ContainerAttributes>): Promise<void> {
    if (all.size === 0) return;
    const params: unknown[] = [];
    const rows = [...all].map(([containerId, a]) => {
      const at = params.length;
      params.push(containerId, a.name, a.image, JSON.stringify(a.labels));
      return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}::jsonb)`;
    });
    await this.dataSource.query(
      `INSERT INTO gateway.container_attributes (container_id, name, image, labels) VALUES ${rows.join(', ')}
       ON CONFLICT (container_id) DO UPDATE SET name = EXCLUDED.name, image = EXCLUDED.image, labels = EXCLUDED.labels`,
      params,
    );
  }

  async findById(eventId: string): Promise<StoredDockerEvent | null> {
    const rows = (await this.dataSource.query(`SELECT ${COLUMNS} FROM gateway.docker_events WHERE event_id = $1`, [
      eventId,
    ])) as Row[];
    return rows.length ? fromRow(rows[0]) : null;
  }

  /** One page of history in Docker's order (time, then id), narrowed by time range and type. */
  async page(query: HistoryPage): Promise<StoredDockerEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.sinceNano !== null) where.push(`time_nano >= ${param(query.sinceNano.toString())}`);
    if (query.untilNano !== null) where.push(`time_nano <= ${param(query.untilNano.toString())}`);
    if (query.types) where.push(`type = ANY(${param(query.types)}::text[])`);
    if (query.after) {
      where.push(`(time_nano, event_id) > (${param(query.after.timeNano.toString())}, ${param(query.after.eventId)}::uuid)`);
    }
    const rows = (await this.dataSource.query(
      `SELECT ${COLUMNS} FROM gateway.docker_events
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY time_nano, event_id
       LIMIT ${param(query.limit)}`,
      params,
    )) as Row[];
    return rows.map(fromRow);
  }
}

function fromRow(row: Row): StoredDockerEvent {
  return {
    eventId: row.event_id,
    timeNano: BigInt(row.time_nano),
    type: row.type as EventType,
    action: row.action,
    actorId: row.actor_id,
    attributes: row.attributes ?? {},
    scope: row.scope === 'swarm' ? 'swarm' : 'local',
    service: row.service,
    position: String(row.position),
    recordedAt: row.recorded_at,
  };
}
