import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EventEnvelope } from '@berth/contracts';
import { type ContainerAttributes, knownContainer, rememberContainer } from '../containers/container-events';
import { toDockerEvent } from './docker-event.mapper';
import type { DockerEventRecord } from './docker-event';
import { DockerEventsRepository } from './docker-events.repository';
import { EventStreamSource } from './event-stream.source';

/**
 * Berth's event stream -> `gateway.docker_events`. Idempotent (the table's key is the event id), so
 * the stream's at-least-once redelivery is harmless; events Docker has no word for are skipped.
 */
@Injectable()
export class DockerEventsProjection implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly source: EventStreamSource,
    private readonly repository: DockerEventsRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.source.start((envelopes) => this.applyAll(envelopes));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.source.stop();
  }

  /** One read's envelopes: their attributes first (container create/rename), then one INSERT of their events. */
  async applyAll(envelopes: readonly EventEnvelope[]): Promise<void> {
    const events: DockerEventRecord[] = [];
    const attributesOf = new Map<string, ContainerAttributes>();
    for (const envelope of envelopes) {
      const containerId = envelope.streamId.startsWith('container:') ? envelope.streamId.slice('container:'.length) : null;
      if (containerId && envelope.type !== 'ContainerCreated' && !knownContainer(containerId)) {
        const attributes = await this.repository.containerAttributes(containerId);
        if (attributes) rememberContainer(containerId, attributes);
      }
      const event = toDockerEvent(envelope);
      if (containerId && (envelope.type === 'ContainerCreated' || envelope.type === 'ContainerRenamed')) {
        const attributes = knownContainer(containerId);
        if (attributes) attributesOf.set(containerId, attributes);
      }
      if (event) events.push(event);
    }
    // the attributes first (the durable copy a restarted gateway reads back), then the events
    await this.repository.saveContainerAttributesAll(attributesOf);
    await this.repository.recordAll(events);
  }
}
