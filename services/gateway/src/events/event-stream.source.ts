import type { EventEnvelope } from '@berth/contracts';

/** The envelopes of one read, in stream order; resolve to acknowledge them all. */
export type EnvelopeHandler = (envelopes: readonly EventEnvelope[]) => Promise<void>;

/**
 * The `<namespace>:events` Redis stream as the gateway consumes it: at-least-once, in stream order,
 * acknowledged after the handler resolves. DI token; the adapter is chosen in events.module.ts.
 */
export abstract class EventStreamSource {
  abstract start(handler: EnvelopeHandler): Promise<void>;
  abstract stop(): Promise<void>;
}
