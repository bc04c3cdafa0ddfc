/**
 * Read caches at the edge: a service that holds its state in memory has a generation token that
 * changes whenever that state changes (`<instance>:<counter>`), so the gateway can keep what it built
 * from the last full read (e.g. `ps` with 200 containers).
 *
 * The service pushes each new token on `generationsChannel(namespace)` (a GenerationNotice) from the
 * connection it publishes its RPC replies on, before any later reply, and repeats it as a heartbeat;
 * the gateway listens on the connection its replies arrive on, so a reply always comes after the
 * notices of the changes made before it (libs/messaging generations.ts). `<service>.generation` answers
 * the token over RPC: the fallback while no notice has been seen.
 */
export const GenerationPatterns = {
  containers: 'containers.generation',
  network: 'network.generation',
} as const;

export interface GenerationReply {
  readonly generation: string;
}

/** Pub/sub channel of GenerationNotice messages (JSON). */
export const generationsChannel = (namespace: string): string => `${namespace}:generations`;

export interface GenerationNotice {
  /** the domain service (`containers`, `network`) */
  readonly service: string;
  /** one running process of it; a restart is a new instance */
  readonly instance: string;
  /** moves forward on every change of that instance's state */
  readonly counter: number;
}
