import type { EventEnvelope, VolumeEvent } from '@berth/contracts';
import type { EventType } from '@berth/docker-api';
import type { DockerEventRecord } from './docker-event';

type Translation = {
  readonly type: EventType;
  readonly action: string;
  readonly actorId: string;
  readonly attributes: Record<string, string>;
};

type EnvelopeOf<E> = E extends { type: infer T; data: infer D } ? EventEnvelope & { type: T; data: D } : never;
type Translator<E> = (envelope: EnvelopeOf<E>) => Translation | null;

/**
 * Berth event type -> Docker's vocabulary. One row per Berth event that Docker has a word for; events
 * absent from the table (Berth's richer facts) are not Docker events. Containers, images and networks
 * add their rows here.
 */
const volumeTranslations: { [K in VolumeEvent['type']]: Translator<Extract<VolumeEvent, { type: K }>> } = {
  VolumeCreated: (e) => ({
    type: 'volume',
    action: 'create',
    actorId: e.data.name,
    attributes: { driver: e.data.driver },
  }),
  VolumeRemoved: (e) => ({
    type: 'volume',
    action: 'destroy',
    actorId: e.data.name,
    // VolumeRemoved does not carry the driver; `local` is the only one Berth has.
    attributes: { driver: 'local' },
  }),
};

export const DOCKER_EVENT_TRANSLATIONS: Readonly<Record<string, Translator<never>>> = {
  ...volumeTranslations,
} as Record<string, Translator<never>>;

/** The Docker event for a Berth envelope, or null when Docker has no such event. */
export function toDockerEvent(envelope: EventEnvelope): DockerEventRecord | null {
  const translate = DOCKER_EVENT_TRANSLATIONS[envelope.type] as Translator<unknown> | undefined;
  if (!translate) return null;
  const translation = translate(envelope as never);
  if (!translation) return null;
  return {
    eventId: envelope.eventId,
    timeNano: eventTimeNano(envelope),
    type: translation.type,
    action: translation.action,
    actorId: translation.actorId,
    attributes: translation.attributes,
    scope: 'local',
    service: envelope.service,
    position: envelope.position,
  };
}

function eventTimeNano(envelope: EventEnvelope): bigint {
  if (/^\d+$/.test(envelope.occurredAtNano ?? '')) return BigInt(envelope.occurredAtNano);
  const ms = Date.parse(envelope.occurredAt);
  return BigInt(Number.isNaN(ms) ? Date.now() : ms) * 1_000_000n;
}
