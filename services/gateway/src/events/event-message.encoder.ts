import type { EventMessage } from '@berth/docker-api';
import type { DockerEventRecord } from './docker-event';
import { secondsOf } from './event-time';

/** Docker's shape, with the legacy `status`/`id`/`from` that API < 1.52 carries for containers and images. */
export function toEventMessage(record: DockerEventRecord): EventMessage {
  const legacy =
    record.type === 'container' || record.type === 'image'
      ? {
          status: record.action,
          id: record.actorId,
          ...(record.attributes.image ? { from: record.attributes.image } : {}),
        }
      : {};
  return {
    ...legacy,
    Type: record.type,
    Action: record.action,
    Actor: { ID: record.actorId, Attributes: record.attributes },
    scope: record.scope,
    time: Number(secondsOf(record.timeNano)),
    timeNano: 0,
  };
}

/** One line of the `/events` stream; `timeNano` written from the bigint so no digit is lost. */
export function encodeEventLine(record: DockerEventRecord): string {
  const json = JSON.stringify(toEventMessage(record));
  return `${json.slice(0, json.lastIndexOf('"timeNano":0'))}"timeNano":${record.timeNano.toString()}}\n`;
}
