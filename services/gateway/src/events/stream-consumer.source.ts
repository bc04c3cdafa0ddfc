import type { EventEnvelope } from '@berth/contracts';
import { StreamConsumer, type StreamConsumerOptions } from '@berth/messaging';
import { EventStreamSource, type EnvelopeHandler } from './event-stream.source';

/** The port's adapter: libs/messaging's consumer-group reader of `<namespace>:events`. */
export class StreamConsumerSource extends EventStreamSource {
  private consumer?: StreamConsumer<EventEnvelope>;

  constructor(private readonly options: Omit<StreamConsumerOptions<EventEnvelope>, 'handler' | 'batchHandler'>) {
    super();
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.consumer = new StreamConsumer<EventEnvelope>({ ...this.options, batchHandler: (entries) => handler(entries.map((e) => e.entry)) });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
  }
}
