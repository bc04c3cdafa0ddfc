import type { EventEnvelope, ImageEvent, NetworkEvent, VolumeEvent } from '@berth/contracts';
import type { EventType } from '@berth/docker-api';
import type { DockerEventRecord } from './docker-event';
import { containerTranslations } from '../containers/container-events';

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
  // Docker's `volume mount` (at container start there; Berth records the reference at create) and `unmount`.
  VolumeMounted: (e) => ({
    type: 'volume',
    action: 'mount',
    actorId: e.data.name,
    attributes: {
      container: e.data.containerId,
      destination: e.data.destination,
      driver: 'local',
      propagation: '',
      'read/write': String(!e.data.readonly),
    },
  }),
  VolumeUnmounted: (e) => ({
    type: 'volume',
    action: 'unmount',
    actorId: e.data.name,
    attributes: { container: e.data.containerId, driver: 'local' },
  }),
};

/** Docker's network events: Actor.ID is the network id; the predefined networks' creation is no event. */
const networkId = (e: EventEnvelope) => e.streamId.slice('network:'.length);
const networkTranslations: Partial<{ [K in NetworkEvent['type']]: Translator<Extract<NetworkEvent, { type: K }>> }> = {
  NetworkCreated: (e) =>
    e.data.predefined
      ? null
      : { type: 'network', action: 'create', actorId: e.data.id, attributes: { name: e.data.name, type: e.data.driver } },
  NetworkRemoved: (e) => ({
    type: 'network',
    action: 'destroy',
    actorId: e.data.id,
    attributes: { name: e.data.name, type: e.data.driver ?? 'bridge' },
  }),
  EndpointAllocated: (e) => ({
    type: 'network',
    action: 'connect',
    actorId: e.data.endpoint.networkId,
    attributes: { container: e.data.endpoint.containerId, name: e.data.endpoint.networkName, type: e.data.endpoint.driver },
  }),
  EndpointReleased: (e) => ({
    type: 'network',
    action: 'disconnect',
    actorId: networkId(e),
    attributes: { container: e.data.containerId, name: e.data.networkName ?? '', type: e.data.driver ?? 'bridge' },
  }),
};

/** Images: Actor.ID is the reference the user named (pull, push) or the image id, as dockerd does. */
const image = (actorId: string, name: string, action: string): Translation => ({ type: 'image', action, actorId, attributes: { name } });
const imageTranslations: { [K in ImageEvent['type']]: Translator<Extract<ImageEvent, { type: K }>> } = {
  ImagePulled: (e) => image(e.data.reference, e.data.reference, 'pull'),
  ImageLoaded: (e) => image(e.data.repoTags[0] ?? e.data.id, e.data.repoTags[0] ?? e.data.id, 'load'),
  ImageImported: (e) => image(e.data.id, e.data.repoTag ?? e.data.id, 'import'),
  ImageTagged: (e) => image(e.data.id, e.data.repoTag, 'tag'),
  ImageUntagged: (e) => image(e.data.id, e.data.repoTag, 'untag'),
  ImageDigestRecorded: () => null,
  ImagePushed: (e) => image(e.data.reference, e.data.reference, 'push'),
  ImageSaved: (e) => image(e.data.id, e.data.names[0] ?? e.data.id, 'save'),
  ImageDeleted: (e) => image(e.data.id, e.data.id, 'delete'),
};

export const DOCKER_EVENT_TRANSLATIONS: Readonly<Record<string, Translator<never>>> = {
  ...volumeTranslations,
  ...containerTranslations,
  ...imageTranslations,
  ...networkTranslations,
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
