/**
 * Jobs on the per-node executor queue (`executorQueueName(nodeId)`). One name enum, one payload type
 * per job; the executor answers with the matching result type as the BullMQ job's return value.
 */
export enum ExecutorJob {
  Ping = 'ping',
  CreateVolumeDir = 'volume.create-dir',
  RemoveVolumeDir = 'volume.remove-dir',
}

export interface ExecutorJobPayloads {
  [ExecutorJob.Ping]: Record<string, never>;
  [ExecutorJob.CreateVolumeDir]: { name: string };
  [ExecutorJob.RemoveVolumeDir]: { name: string };
}

export interface ExecutorJobResults {
  [ExecutorJob.Ping]: { nodeId: string; pid: number };
  [ExecutorJob.CreateVolumeDir]: { mountpoint: string };
  [ExecutorJob.RemoveVolumeDir]: { removed: boolean; bytes: number };
}

/** Observations the executor publishes (on the `observations` stream) for services to turn into state. */
export interface ExecutorObservation {
  readonly observationId: string;
  readonly nodeId: string;
  readonly kind: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
  readonly observedAt: string;
}
export const OBSERVATIONS_STREAM = 'observations';
