import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EventEnvelope } from '@berth/contracts';
import { knownContainer, rememberContainer } from '../containers/container-events';
import { toDockerEvent } from './docker-event.mapper';
import { DockerEventsRepository } from './docker-events.repository';
import { EventStreamSource } from './event-stream.source';

/**
 * Berth's event stream -> `gateway.docker_events`. Idempotent (the table's key is the event id), so
 * the stream's at-least-once redelivery is harmless; events Docker has no word for are skipped.
 */
@Injectable()
export class DockerEventsProjection implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('docker-events-projection');

  constructor(
    private readonly source: EventStreamSource,
    private readonly repository: DockerEventsRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.source.start((envelope) => this.apply(envelope));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.source.stop();
  }

  async apply(envelope: EventEnvelope): Promise<void> {
    const containerId = envelope.streamId.startsWith('container:') ? envelope.streamId.slice('container:'.length) : null;
    if (containerId && envelope.type !== 'ContainerCreated' && !knownContainer(containerId)) {
      const attributes = await this.repository.containerAttributes(containerId);
      if (attributes) rememberContainer(containerId, attributes);
    }
    const event = toDockerEvent(envelope);
    if (containerId && (envelope.type === 'ContainerCreated' || envelope.type === 'ContainerRenamed')) {
      const attributes = knownContainer(containerId);
      if (attributes) await this.repository.saveContainerAttributes(containerId, attributes);
    }
    if (!event) return;
    await this.repository.record(event);
    this.logger.debug?.(`${event.type} ${event.action} ${event.actorId}`);
  }
}
