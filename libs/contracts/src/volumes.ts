import type { DomainEvent } from './events';

export const VolumePatterns = {
  create: 'volumes.create',
  list: 'volumes.list',
  inspect: 'volumes.inspect',
  remove: 'volumes.remove',
  prune: 'volumes.prune',
  /** A container mounts volumes: references recorded (and empty volumes filled from the image on first mount). */
  mount: 'volumes.mount',
  /** A container is removed: its references released (and its anonymous volumes removed when asked). */
  release: 'volumes.release',
} as const;

/** One volume a container mounts. */
export interface VolumeMountRef {
  readonly name: string;
  readonly destination: string;
  readonly readonly: boolean;
  /** Docker's copy-up: an empty volume gets the image's content at `path` (layer dirs top first). */
  readonly copyFrom?: { readonly layerDirs: readonly string[]; readonly path: string };
}
export interface MountVolumesRequest {
  readonly containerId: string;
  readonly volumes: readonly VolumeMountRef[];
}
export interface ReleaseVolumesRequest {
  readonly containerId: string;
  /** `docker rm -v`, `--rm`: the container's anonymous volumes go too (when no other container uses them) */
  readonly removeAnonymous: boolean;
}
export interface ReleaseVolumesReply {
  readonly released: string[];
  readonly removed: string[];
}

export interface VolumeView {
  readonly name: string;
  readonly driver: string;
  readonly mountpoint: string;
  readonly labels: Record<string, string>;
  readonly options: Record<string, string>;
  readonly scope: 'local';
  /** RFC 3339 */
  readonly createdAt: string;
  /** true when the name was generated (anonymous volume) */
  readonly anonymous: boolean;
}

export interface CreateVolumeRequest {
  readonly name?: string;
  /** a container's anonymous volume whose name the caller generated (default: no name given) */
  readonly anonymous?: boolean;
  readonly driver?: string;
  readonly driverOpts?: Record<string, string>;
  readonly labels?: Record<string, string>;
}
export interface ListVolumesRequest {
  /** Docker filters in map form: { name: {x: true}, label: {...}, dangling: {...}, driver: {...} } */
  readonly filters?: Record<string, string[]>;
}
export interface RemoveVolumeRequest {
  readonly name: string;
  readonly force?: boolean;
}
export interface PruneVolumesRequest {
  readonly filters?: Record<string, string[]>;
  readonly all?: boolean;
}
export interface PruneVolumesReply {
  readonly volumesDeleted: string[];
  readonly spaceReclaimed: number;
}

export type VolumeCreated = DomainEvent<
  'VolumeCreated',
  {
    name: string;
    driver: string;
    mountpoint: string;
    labels: Record<string, string>;
    options: Record<string, string>;
    anonymous: boolean;
  }
>;
export type VolumeRemoved = DomainEvent<'VolumeRemoved', { name: string }>;
/** A container mounts the volume (a mount reference, keyed by container id). */
export type VolumeMounted = DomainEvent<
  'VolumeMounted',
  { name: string; containerId: string; destination: string; readonly: boolean }
>;
/** The container no longer references the volume (it was removed). */
export type VolumeUnmounted = DomainEvent<'VolumeUnmounted', { name: string; containerId: string }>;
export type VolumeEvent = VolumeCreated | VolumeRemoved | VolumeMounted | VolumeUnmounted;
