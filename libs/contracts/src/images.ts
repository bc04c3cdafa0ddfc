import type { DomainEvent } from './events';

/**
 * Request/reply patterns of the images service. Long operations (pull, push, load, import) stream
 * Docker's JSON progress messages on the progress channel named by `progressKey` (see
 * docs/architecture.md, "Progress channel"); their RPC reply arrives when they are done.
 */
export const ImagePatterns = {
  /** For the containers service: reference or id -> config + overlay lower dirs. */
  resolve: 'images.resolve',
  pull: 'images.pull',
  list: 'images.list',
  inspect: 'images.inspect',
  history: 'images.history',
  tag: 'images.tag',
  remove: 'images.remove',
  prune: 'images.prune',
  push: 'images.push',
  save: 'images.save',
  load: 'images.load',
  import: 'images.import',
  login: 'images.login',
  search: 'images.search',
} as const;

/** Docker's image config `config` object (the container defaults an image carries). */
export interface ImageContainerConfig {
  readonly Cmd?: string[] | null;
  readonly Entrypoint?: string[] | null;
  readonly Env?: string[] | null;
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly ExposedPorts?: Record<string, object> | null;
  readonly Volumes?: Record<string, object> | null;
  readonly StopSignal?: string;
  readonly Healthcheck?: {
    readonly Test?: string[];
    readonly Interval?: number;
    readonly Timeout?: number;
    readonly StartPeriod?: number;
    readonly StartInterval?: number;
    readonly Retries?: number;
  };
  readonly Labels?: Record<string, string> | null;
  readonly OnBuild?: string[] | null;
  readonly Shell?: string[];
  readonly ArgsEscaped?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// images.resolve (used by the containers service for create/run)

export interface ResolveImageRequest {
  /** `busybox`, `busybox:1`, `127.0.0.1:5000/x@sha256:…`, a full id `sha256:…` or an id prefix. */
  readonly reference: string;
}

/** Errors: NOT_FOUND `No such image: <reference>` (the CLI then pulls and retries the create). */
export interface ResolvedImageView {
  /** `sha256:<hex>` of the config JSON. */
  readonly id: string;
  readonly config: ImageContainerConfig;
  /** Absolute overlayfs lower dirs, TOP layer first (ready for `lowerdir=a:b:c`). Empty for an image without layers. */
  readonly layerDirs: string[];
  /** Familiar `name:tag` entries, e.g. `busybox:latest`. */
  readonly repoTags: string[];
  readonly os: string;
  readonly architecture: string;
}

/**
 * Asked of the containers service before `rmi`/`image prune` (by the gateway): which containers use
 * an image. A containers service that does not answer (yet) counts as "none".
 */
export const ContainerImageUsersPattern = 'containers.image-users';
export interface ContainerImageUsersRequest {
  /** Image ids (`sha256:…`); empty = every image in use. */
  readonly imageIds: string[];
}
export interface ContainerImageUsersReply {
  readonly containers: Array<{ id: string; imageId: string; running: boolean }>;
}

// ---------------------------------------------------------------------------------------------------
// Reads

export interface ImageView {
  readonly id: string;
  /** Familiar `name:tag`. */
  readonly repoTags: string[];
  /** Familiar `name@sha256:…`. */
  readonly repoDigests: string[];
  /** Id of the image this one was built from, '' when none. */
  readonly parent: string;
  readonly comment: string;
  /** RFC 3339 from the image config ('' when absent). */
  readonly created: string;
  readonly author: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly os: string;
  readonly config: ImageContainerConfig;
  readonly diffIds: string[];
  readonly chainIds: string[];
  /** Uncompressed bytes of all layers. */
  readonly size: number;
  readonly labels: Record<string, string>;
  /** The config's history entries (for /history). */
  readonly history: Array<{ created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }>;
  /** Per layer uncompressed sizes, in diffIds order. */
  readonly layerSizes: number[];
  /** When Berth recorded the image (RFC 3339): Metadata.LastTagTime-ish. */
  readonly recordedAt: string;
}

export interface ListImagesRequest {
  readonly all?: boolean;
  /** Docker filters in map form: { dangling: ['true'], reference: ['busybox:*'], label: [...], before, since } */
  readonly filters?: Record<string, string[]>;
}

export interface InspectImageRequest {
  readonly name: string;
}

export interface HistoryEntryView {
  readonly id: string;
  readonly created: number;
  readonly createdBy: string;
  readonly tags: string[];
  readonly size: number;
  readonly comment: string;
}

// ---------------------------------------------------------------------------------------------------
// Commands

export interface PullImageRequest {
  /** `fromImage` as the CLI sends it (may carry a tag or digest). */
  readonly fromImage: string;
  readonly tag?: string;
  /** `os/arch[/variant]`; default linux/amd64. */
  readonly platform?: string;
  /** The X-Registry-Auth header value as received (base64url JSON), '' for anonymous. */
  readonly registryAuth?: string;
  readonly progressKey?: string;
}
export interface PullImageReply {
  readonly id: string;
  /** Familiar reference pulled, e.g. `127.0.0.1:5000/busybox:1`. */
  readonly reference: string;
  readonly digest: string;
  /** `Downloaded newer image for …` or `Image is up to date for …`. */
  readonly status: string;
}

export interface TagImageRequest {
  readonly source: string;
  /** Repository (may be fully qualified, as the CLI sends it). */
  readonly repo: string;
  readonly tag?: string;
}

export interface RemoveImageRequest {
  readonly name: string;
  readonly force?: boolean;
  readonly noprune?: boolean;
  /** Ids / names of containers that use the image (the caller asks the containers service). */
  readonly usedBy?: Array<{ id: string; running: boolean }>;
}
export type RemoveImageReply = Array<{ Untagged: string } | { Deleted: string }>;

export interface PruneImagesRequest {
  readonly all?: boolean;
  readonly filters?: Record<string, string[]>;
  /** Image ids used by containers (never pruned). */
  readonly usedImageIds?: string[];
}
export interface PruneImagesReply {
  readonly imagesDeleted: RemoveImageReply;
  readonly spaceReclaimed: number;
}

export interface PushImageRequest {
  readonly name: string;
  readonly tag?: string;
  readonly registryAuth?: string;
  readonly progressKey?: string;
}
export interface PushImageReply {
  readonly tag: string;
  readonly digest: string;
  readonly size: number;
}

export interface SaveImagesRequest {
  readonly names: string[];
  /** Absolute path of the tar to write (under the data root's tmp dir; the gateway streams it and deletes it). */
  readonly path?: string;
}
export interface SaveImagesReply {
  readonly path: string;
}

export interface LoadImagesRequest {
  /** Absolute path of the uploaded tar (written by the gateway under `<data-root>/tmp`). */
  readonly path: string;
  readonly quiet?: boolean;
  readonly progressKey?: string;
}
export interface LoadImagesReply {
  /** `Loaded image: busybox:latest` / `Loaded image ID: sha256:…` lines. */
  readonly loaded: string[];
}

export interface ImportImageRequest {
  /** Absolute path of the uploaded tar (fromSrc=-) or a URL. */
  readonly path?: string;
  readonly url?: string;
  readonly repo?: string;
  readonly tag?: string;
  readonly message?: string;
  /** Dockerfile-like `changes` (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL). */
  readonly changes?: string[];
  readonly platform?: string;
  readonly progressKey?: string;
}
export interface ImportImageReply {
  readonly id: string;
}

export interface LoginRequest {
  readonly username?: string;
  readonly password?: string;
  readonly serveraddress?: string;
  readonly identitytoken?: string;
  readonly registrytoken?: string;
  readonly auth?: string;
}
export interface LoginReply {
  readonly status: string;
  readonly identityToken?: string;
}

// ---------------------------------------------------------------------------------------------------
// Progress channel messages (Redis stream `<ns>:progress:<key>`, field `m`, JSON)

/** One Docker JSON progress line, or the end marker. */
export type ProgressMessage =
  | {
      readonly status?: string;
      readonly id?: string;
      readonly progress?: string;
      readonly progressDetail?: { current?: number; total?: number };
      readonly stream?: string;
      readonly aux?: Record<string, unknown>;
    }
  | { readonly end: true };

export const progressStreamKey = (namespace: string, key: string) => `${namespace}:progress:${key}`;

// ---------------------------------------------------------------------------------------------------
// Events. Stream `image:<id-hex>` holds an image's life; tag streams are not needed because every
// tag move is recorded on the image it lands on (ImageTagged) and the one it leaves (ImageUntagged).

/** A layer as the content store holds it: the blob (compressed as pulled or loaded) and its unpacked form. */
export interface StoredLayer {
  /** Blob digest (of the bytes as stored, usually gzip). */
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  chainId: string;
  /** Uncompressed bytes. */
  unpackedSize: number;
}

export interface ImageRecord {
  id: string;
  /** The image config JSON exactly as stored (its sha256 is the id). */
  configJson: string;
  configMediaType: string;
  layers: StoredLayer[];
}

export type ImagePulled = DomainEvent<'ImagePulled', ImageRecord & { reference: string; repoTag?: string; repoDigest: string }>;
export type ImageLoaded = DomainEvent<'ImageLoaded', ImageRecord & { repoTags: string[] }>;
export type ImageImported = DomainEvent<'ImageImported', ImageRecord & { repoTag?: string; source: string }>;
export type ImageTagged = DomainEvent<'ImageTagged', { id: string; repoTag: string }>;
export type ImageUntagged = DomainEvent<'ImageUntagged', { id: string; repoTag: string }>;
export type ImageDigestRecorded = DomainEvent<'ImageDigestRecorded', { id: string; repoDigest: string }>;
export type ImagePushed = DomainEvent<'ImagePushed', { id: string; reference: string; repoDigest: string; size: number }>;
export type ImageSaved = DomainEvent<'ImageSaved', { id: string; names: string[] }>;
export type ImageDeleted = DomainEvent<'ImageDeleted', { id: string; chainIds: string[] }>;
export type ImageEvent =
  | ImagePulled
  | ImageLoaded
  | ImageImported
  | ImageTagged
  | ImageUntagged
  | ImageDigestRecorded
  | ImagePushed
  | ImageSaved
  | ImageDeleted;

// ---------------------------------------------------------------------------------------------------
// Executor jobs of the images domain (names in ExecutorJob, see executor.ts). Blobs live in
// `<data-root>/blobs/sha256/<hex>`, unpacked layers in `<data-root>/layers/<chainID hex>/`.

/** Per-blob progress the executor reports through BullMQ job progress. */
export interface LayerProgress {
  readonly digest: string;
  readonly phase: 'cached' | 'exists' | 'waiting' | 'download' | 'verified' | 'extract' | 'complete' | 'mounted' | 'upload' | 'pushed';
  readonly current?: number;
  readonly total?: number;
}

export interface RegistryTarget {
  /** Registry domain, e.g. `127.0.0.1:5000`, `docker.io`. */
  readonly domain: string;
  /** Repository path inside it, e.g. `library/busybox`. */
  readonly path: string;
  /** X-Registry-Auth header value as received ('' = anonymous). */
  readonly registryAuth?: string;
}

export interface PullLayersPayload {
  readonly registry: RegistryTarget;
  readonly layers: ReadonlyArray<{ digest: string; size: number; mediaType: string; diffId: string; chainId: string }>;
  /** Small verified blobs (manifests, config) to keep in the content store, base64. */
  readonly blobs: ReadonlyArray<{ digest: string; data: string }>;
}
export interface PullLayersResult {
  readonly layers: ReadonlyArray<{ chainId: string; unpackedSize: number; action: 'cached' | 'downloaded' | 'unpacked' }>;
}

export interface PutBlobsPayload {
  readonly blobs: ReadonlyArray<{ digest: string; data: string }>;
}

export interface RemoveLayersPayload {
  readonly chainIds: readonly string[];
  readonly blobs: readonly string[];
}
export interface RemoveLayersResult {
  readonly bytes: number;
}

export interface PushBlobsPayload {
  readonly registry: RegistryTarget;
  readonly blobs: ReadonlyArray<{ digest: string; size: number }>;
  /** Repositories (same registry) the blobs may be mounted from. */
  readonly mountFrom: readonly string[];
  /** Manifest to put after the blobs, base64, under `reference`. */
  readonly manifest: { readonly reference: string; readonly data: string; readonly mediaType: string };
}
export interface PushBlobsResult {
  readonly digest: string;
}

export interface ExportImagesPayload {
  readonly path: string;
  readonly images: ReadonlyArray<{
    id: string;
    configJson: string;
    layers: StoredLayer[];
    /** Familiar name:tag, and the canonical docker.io/... names for index.json annotations. */
    repoTags: string[];
    canonicalTags: string[];
    manifestJson: string;
    manifestMediaType: string;
  }>;
}
export interface ExportImagesResult {
  readonly path: string;
  readonly size: number;
}

export interface ImportLayersPayload {
  /** `load`: a docker save / OCI layout archive; `rootfs`: one rootfs tar (docker import). */
  readonly mode: 'load' | 'rootfs';
  readonly path: string;
}
export interface ImportLayersResult {
  readonly images: ReadonlyArray<{ configJson: string; configMediaType: string; layers: StoredLayer[]; repoTags: string[] }>;
  /** mode rootfs: the single layer. */
  readonly layer?: StoredLayer;
}
