import type { EventType } from '@berth/docker-api';

/**
 * One Docker event as the gateway stores it (`gateway.docker_events`) and streams it. `timeNano` stays
 * a bigint: nanoseconds since the epoch do not fit a JS number exactly.
 */
export interface DockerEventRecord {
  readonly eventId: string;
  readonly timeNano: bigint;
  readonly type: EventType;
  readonly action: string;
  readonly actorId: string;
  readonly attributes: Record<string, string>;
  readonly scope: 'local' | 'swarm';
  /** Where it came from: the owning Berth service and its global position there. */
  readonly service: string;
  readonly position: string;
}
