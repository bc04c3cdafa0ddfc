import { Module, type Provider } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { GATEWAY_CONFIG } from '../config';
import { DockerEventsProjection } from './docker-events.projection';
import { DockerEventsRepository } from './docker-events.repository';
import { EventStreamSource } from './event-stream.source';
import { EventsController } from './events.controller';
import { LiveDockerEvents } from './live-docker-events';
import { StreamConsumerSource } from './stream-consumer.source';
import { StreamEventsService } from './stream-events.service';

/** Consumer group on `<namespace>:events`; one consumer name per node so a restart resumes its pending entries. */
export const EVENTS_CONSUMER_GROUP = 'gateway';
/**
 * The services' relays publish each burst 20 ms after it (one XADD pipeline each); waiting as long
 * again after a read lets one projection write carry what several relays sent for one `docker run`.
 */
const EVENTS_COALESCE_MS = 20;

const eventStreamSourceProvider: Provider = {
  provide: EventStreamSource,
  inject: [GATEWAY_CONFIG],
  useFactory: (config: BerthConfig) =>
    new StreamConsumerSource({
      redisUrl: config.redisUrl,
      namespace: config.namespace,
      group: EVENTS_CONSUMER_GROUP,
      consumer: `gateway-${config.nodeId}`,
      coalesceMs: EVENTS_COALESCE_MS,
    }),
};

@Module({
  controllers: [EventsController],
  providers: [
    DockerEventsRepository,
    LiveDockerEvents,
    StreamEventsService,
    DockerEventsProjection,
    eventStreamSourceProvider,
  ],
  exports: [LiveDockerEvents],
})
export class EventsModule {}
