import type { DomainEvent } from './events';

export const VolumePatterns = {
  create: 'volumes.create',
  list: 'volumes.list',
  inspect: 'volumes.inspect',
  remove: 'volumes.remove',
  prune: 'volumes.prune',
} as const;

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
export type VolumeEvent = VolumeCreated | VolumeRemoved;
