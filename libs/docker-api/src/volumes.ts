/** Docker Engine API wire types for volumes. */

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Status?: Record<string, unknown>;
  Labels: Record<string, string> | null;
  Scope: 'local' | 'global';
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
}

/** `POST /volumes/create` body */
export interface VolumeCreateOptions {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** `GET /volumes` */
export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[] | null;
}

/** `POST /volumes/prune` */
export interface VolumePruneResponse {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}
