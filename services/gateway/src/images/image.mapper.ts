import type { HistoryEntryView, ImageView } from '@berth/contracts';
import { apiVersionBelow } from '../http/api-version';

/** Docker's ImageSummary (GET /images/json). */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

export function toImageSummary(v: ImageView, apiVersion: string): ImageSummary {
  return {
    Id: v.id,
    ParentId: v.parent,
    RepoTags: v.repoTags,
    RepoDigests: v.repoDigests,
    Created: Math.floor(Date.parse(v.created) / 1000) || 0,
    Size: v.size,
    SharedSize: -1,
    ...(apiVersionBelow(apiVersion, '1.44') ? { VirtualSize: v.size } : {}),
    Labels: v.labels ?? {},
    Containers: -1,
  };
}

/** Docker's ImageInspect (GET /images/{name}/json). */
export function toImageInspect(v: ImageView, layerDirs: string[], apiVersion: string): Record<string, unknown> {
  const c = v.config ?? {};
  return {
    Id: v.id,
    RepoTags: v.repoTags,
    RepoDigests: v.repoDigests,
    Parent: v.parent,
    Comment: v.comment,
    Created: v.created,
    DockerVersion: '',
    Author: v.author,
    Config: {
      Hostname: '',
      Domainname: '',
      User: c.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
      ...(c.ArgsEscaped !== undefined ? { ArgsEscaped: c.ArgsEscaped } : {}),
      Image: '',
      Volumes: c.Volumes ?? null,
      WorkingDir: c.WorkingDir ?? '',
      Entrypoint: c.Entrypoint ?? null,
      OnBuild: c.OnBuild ?? null,
      Labels: c.Labels ?? null,
      ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
      ...(c.Shell ? { Shell: c.Shell } : {}),
    },
    Architecture: v.architecture,
    ...(v.variant ? { Variant: v.variant } : {}),
    Os: v.os,
    Size: v.size,
    ...(apiVersionBelow(apiVersion, '1.44') ? { VirtualSize: v.size } : {}),
    GraphDriver: {
      Name: 'overlay2',
      Data: layerDirs.length ? { LowerDir: layerDirs.join(':') } : {},
    },
    RootFS: { Type: 'layers', Layers: v.diffIds },
    Metadata: { LastTagTime: v.repoTags.length ? v.recordedAt : '0001-01-01T00:00:00Z' },
  };
}

export function toHistory(entries: HistoryEntryView[]): Array<Record<string, unknown>> {
  return entries.map((h) => ({ Id: h.id, Created: h.created, CreatedBy: h.createdBy, Tags: h.tags.length ? h.tags : null, Size: h.size, Comment: h.comment }));
}
