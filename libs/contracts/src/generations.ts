/**
 * Read caches at the edge: a service that holds its state in memory answers `<service>.generation`
 * with a token that changes whenever that state changes (`<instance>:<counter>`), so the gateway can
 * keep what it built from the last full read (e.g. `ps` with 200 containers) and ask only for the
 * token, which is tiny. A token is only meaningful from a single instance of the service (as the
 * containers registry already assumes).
 */
export const GenerationPatterns = {
  containers: 'containers.generation',
  network: 'network.generation',
} as const;

export interface GenerationReply {
  readonly generation: string;
}
