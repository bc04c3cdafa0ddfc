import type { DomainEvent } from './events';
import type { ContainerResources, ContainerSignalName } from './executor';
import type { ResolvedImageView } from './images';

/**
 * Request/reply patterns of the containers service. The gateway orchestrates create: it resolves the
 * image (`images.resolve`) and passes the result here, so this service never calls another service.
 *
 * Config and HostConfig are kept in Docker's own shape (PascalCase, as `POST /containers/create` sends
 * them, after validation and defaults): they are the container's specification language, `inspect`
 * echoes them back verbatim, and every SDK already speaks them. Berth's own facts (state, runs, exec
 * sessions) are camelCase.
 */
export const ContainerPatterns = {
  create: 'containers.create',
  inspect: 'containers.inspect',
  list: 'containers.list',
  start: 'containers.start',
  stop: 'containers.stop',
  restart: 'containers.restart',
  kill: 'containers.kill',
  pause: 'containers.pause',
  unpause: 'containers.unpause',
  /** Long poll: answers when the condition is met (the caller passes a long timeout and retries). */
  wait: 'containers.wait',
  /** Ends the named waits (their clients left) with `pending`: { waitIds } */
  waitCancel: 'containers.wait-cancel',
  remove: 'containers.remove',
  rename: 'containers.rename',
  update: 'containers.update',
  prune: 'containers.prune',
  resize: 'containers.resize',
  /**
   * Before a hijacked attach: makes sure the shim for the next run exists, records `attach`. With
   * `early`, answers before a pending shim spawn is done (`shimPending`); `attachReady` then waits for it.
   */
  attach: 'containers.attach',
  /** `{id}`: once the shim of the container's next run (if one is pending) is up. */
  attachReady: 'containers.attach-ready',
  closeStdin: 'containers.close-stdin',
  top: 'containers.top',
  stats: 'containers.stats',
  /** `{id}` -> `{sizeRw}`: bytes in the writable layer (inspect/ps with size=1) */
  size: 'containers.size',
  execCreate: 'containers.exec-create',
  /** Spawns the exec's shim (paused before execve); the gateway then attaches and calls execRun. */
  execPrepare: 'containers.exec-prepare',
  execRun: 'containers.exec-run',
  execInspect: 'containers.exec-inspect',
  execResize: 'containers.exec-resize',
  /** Long poll until the exec's exit is recorded (so ExitCode is final before the stream closes). */
  execWait: 'containers.exec-wait',
} as const;

// ---------------------------------------------------------------------------------------------------
// Docker's create spec (PascalCase), the subset Berth acts on; unknown fields are kept as given.

export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  [key: string]: unknown;
}

export interface MountSpec {
  Type?: 'bind' | 'volume' | 'tmpfs' | string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface RestartPolicy {
  Name?: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure' | string;
  MaximumRetryCount?: number;
}

export interface HostConfig {
  Binds?: string[] | null;
  Mounts?: MountSpec[] | null;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  PublishAllPorts?: boolean;
  NetworkMode?: string;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  OomKillDisable?: boolean | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  Tmpfs?: Record<string, string> | null;
  Init?: boolean | null;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  SecurityOpt?: string[] | null;
  LogConfig?: { Type?: string; Config?: Record<string, string> | null };
  ShmSize?: number;
  GroupAdd?: string[] | null;
  OomScoreAdj?: number;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------------
// Views

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export type HealthStatus = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface ContainerStateView {
  readonly status: ContainerStatus;
  readonly pid: number;
  readonly exitCode: number;
  readonly error: string;
  readonly oomKilled: boolean;
  /** RFC3339Nano; Docker's zero time `0001-01-01T00:00:00Z` when never. */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly health: { status: HealthStatus; failingStreak: number; log: HealthLogEntry[] } | null;
}

/** A mount as resolved at create time (Docker's inspect `Mounts[]` entries, camelCase). */
export interface ResolvedMount {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  /** volume name for volumes, '' otherwise */
  readonly name: string;
  /** host path ('' for tmpfs) */
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
  readonly mode: string;
  readonly propagation: string;
  /** tmpfs options text as given (`size=64m,mode=1777`) */
  readonly options?: string;
}

export interface ContainerView {
  readonly id: string;
  /** without the leading `/` */
  readonly name: string;
  /** RFC3339Nano */
  readonly created: string;
  /** Config.Image as the user wrote it */
  readonly image: string;
  readonly imageId: string;
  readonly path: string;
  readonly args: string[];
  readonly config: ContainerConfig;
  readonly hostConfig: HostConfig;
  readonly mounts: ResolvedMount[];
  readonly state: ContainerStateView;
  readonly restartCount: number;
  /** exits recorded so far: `wait?condition=next-exit` waits for this to grow */
  readonly exitCount: number;
  /** stopped by the user (unless-stopped and always do not restart it on boot) */
  readonly stoppedByUser: boolean;
  readonly logPath: string;
  readonly execIds: string[];
  /** the stream's version: later views replace earlier ones */
  readonly version: number;
}

export interface ExecView {
  readonly id: string;
  readonly containerId: string;
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly pid: number;
  readonly openStdin: boolean;
  readonly openStdout: boolean;
  readonly openStderr: boolean;
  readonly tty: boolean;
  readonly privileged: boolean;
  readonly user: string;
  readonly entrypoint: string;
  readonly arguments: string[];
  readonly workingDir: string;
  readonly env: string[];
  readonly detachKeys: string;
  /** run by the health checker (not listed in ExecIDs; its events carry `execType=healthcheck`) */
  readonly healthcheck?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Requests

export interface CreateContainerRequest {
  readonly name?: string;
  readonly config: ContainerConfig;
  readonly hostConfig: HostConfig;
  readonly networkingConfig?: Record<string, unknown> | null;
  /** The image as `images.resolve` returned it (the gateway resolves before calling create). */
  readonly image: ResolvedImageView;
  /** Named volumes the spec mounts, created (if missing) by the gateway: name -> host mountpoint. */
  readonly volumeMountpoints?: Record<string, string>;
}
export interface CreateContainerReply {
  readonly id: string;
  readonly warnings: string[];
}

/** `id` is a full id, an id prefix or a name (with or without `/`). */
export interface ContainerRefRequest {
  readonly id: string;
}

export interface ListContainersRequest {
  readonly all?: boolean;
  /** -1/absent: no limit. A limit implies all. */
  readonly limit?: number;
  readonly filters?: Record<string, string[]>;
}

export interface StopContainerRequest extends ContainerRefRequest {
  /** seconds; absent: Config.StopTimeout or 10 */
  readonly t?: number;
  readonly signal?: string;
}

export interface KillContainerRequest extends ContainerRefRequest {
  readonly signal?: ContainerSignalName;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export interface WaitContainerRequest extends ContainerRefRequest {
  readonly condition: WaitCondition;
  /** next-exit: the exitCount seen when the wait began (so a retried long poll keeps its meaning) */
  readonly afterExitCount?: number;
  /** names this long poll for `waitCancel` (the gateway cancels it when its client leaves) */
  readonly waitId?: string;
}
export interface CancelWaitsRequest {
  readonly waitIds: readonly string[];
}
export interface WaitContainerReply {
  readonly statusCode: number;
  readonly error: string | null;
  /** true when the long poll ended without the condition (retry) */
  readonly pending?: boolean;
}

export interface RemoveContainerRequest extends ContainerRefRequest {
  readonly force?: boolean;
  /** remove anonymous volumes */
  readonly volumes?: boolean;
}

export interface RenameContainerRequest extends ContainerRefRequest {
  readonly name: string;
}

export interface UpdateContainerRequest extends ContainerRefRequest {
  readonly resources: ContainerResources;
  readonly restartPolicy?: RestartPolicy;
}

export interface PruneContainersRequest {
  readonly filters?: Record<string, string[]>;
}
export interface PruneContainersReply {
  readonly containersDeleted: string[];
  readonly spaceReclaimed: number;
}

export interface ResizeRequest extends ContainerRefRequest {
  readonly h: number;
  readonly w: number;
}

export interface AttachRequest extends ContainerRefRequest {
  /** answer before a pending shim spawn is done (`shimPending`) */
  readonly early?: boolean;
}

export interface AttachReply {
  readonly id: string;
  readonly name?: string;
  /** the shim's spawn was still under way (only with `early`): wait with `attachReady` before connecting */
  readonly shimPending?: boolean;
  readonly tty: boolean;
  readonly openStdin: boolean;
  readonly stdinOnce: boolean;
  /** the shim's attach socket (same node) */
  readonly attachSocket: string;
  readonly status: ContainerStatus;
}

export interface ExecCreateRequest extends ContainerRefRequest {
  readonly cmd: string[];
  readonly env?: string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly tty?: boolean;
  readonly privileged?: boolean;
  readonly attachStdin?: boolean;
  readonly attachStdout?: boolean;
  readonly attachStderr?: boolean;
  readonly detachKeys?: string;
}
export interface ExecRefRequest {
  readonly execId: string;
}
export interface ExecPrepareReply {
  readonly exec: ExecView;
  readonly attachSocket: string;
}
/**
 * exec-prepare's answer: the exec ready to start, or the refusal its own state gives (already running,
 * has already run), which dockerd tells inside the taken-over stream rather than as an error answer.
 */
export type ExecPrepareAnswer = ExecPrepareReply | { readonly refused: string };
/** `prepared`: the exec whose shim is being spawned, and where it will listen (see the gateway's execStart). */
export interface ExecCreateReply {
  readonly id: string;
  readonly prepared?: ExecPrepareReply;
}
export interface ExecResizeRequest extends ExecRefRequest {
  readonly h: number;
  readonly w: number;
}

// ---------------------------------------------------------------------------------------------------
// Events: stream `container:<id>`. Exec sessions live on their container's stream.

export interface ContainerCreatedData {
  id: string;
  name: string;
  created: string;
  image: string;
  imageId: string;
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig;
  mounts: ResolvedMount[];
  logPath: string;
  /** overlay lower dirs, top first (kept so a restart on another boot can prepare again) */
  layerDirs: string[];
}

export type ContainerCreated = DomainEvent<'ContainerCreated', ContainerCreatedData>;
export type ContainerStarted = DomainEvent<'ContainerStarted', { id: string; pid: number; startedAt: string; restart: boolean }>;
export type ContainerStartFailed = DomainEvent<'ContainerStartFailed', { id: string; error: string; exitCode: number; at: string }>;
/** A signal was sent (Docker's `kill` event; stop sends one too). */
export type ContainerKilled = DomainEvent<'ContainerKilled', { id: string; signal: string }>;
export type ContainerExited = DomainEvent<
  'ContainerExited',
  { id: string; exitCode: number; oomKilled: boolean; finishedAt: string; startedAt: string; error?: string }
>;
/** `docker stop` finished (after ContainerExited). */
export type ContainerStopped = DomainEvent<'ContainerStopped', { id: string }>;
export type ContainerRestarted = DomainEvent<'ContainerRestarted', { id: string }>;
export type ContainerRestarting = DomainEvent<'ContainerRestarting', { id: string; restartCount: number }>;
export type ContainerPaused = DomainEvent<'ContainerPaused', { id: string }>;
export type ContainerUnpaused = DomainEvent<'ContainerUnpaused', { id: string }>;
export type ContainerOomKilled = DomainEvent<'ContainerOomKilled', { id: string }>;
export type ContainerRenamed = DomainEvent<'ContainerRenamed', { id: string; oldName: string; name: string }>;
export type ContainerUpdated = DomainEvent<'ContainerUpdated', { id: string; hostConfig: Partial<HostConfig> }>;
export type ContainerAttached = DomainEvent<'ContainerAttached', { id: string }>;
export type ContainerRemovalStarted = DomainEvent<'ContainerRemovalStarted', { id: string }>;
export type ContainerRemoved = DomainEvent<'ContainerRemoved', { id: string; name: string }>;
export type ContainerHealthChanged = DomainEvent<
  'ContainerHealthChanged',
  /** statusChanged false: a probe result only (Docker's `health_status` event is for changes); absent: changed */
  { id: string; status: HealthStatus; failingStreak: number; entry?: HealthLogEntry; statusChanged?: boolean }
>;
/** Health-check execs carry `execType: 'healthcheck'` (Docker floods exec events for them; this lets them be filtered). */
export type ExecCreated = DomainEvent<'ExecCreated', { id: string; execId: string; exec: ExecView; execType?: 'healthcheck' }>;
export type ExecStarted = DomainEvent<'ExecStarted', { id: string; execId: string; pid: number; execType?: 'healthcheck' }>;
export type ExecExited = DomainEvent<'ExecExited', { id: string; execId: string; exitCode: number; execType?: 'healthcheck' }>;

export type ContainerEvent =
  | ContainerCreated
  | ContainerStarted
  | ContainerStartFailed
  | ContainerKilled
  | ContainerExited
  | ContainerStopped
  | ContainerRestarted
  | ContainerRestarting
  | ContainerPaused
  | ContainerUnpaused
  | ContainerOomKilled
  | ContainerRenamed
  | ContainerUpdated
  | ContainerAttached
  | ContainerRemovalStarted
  | ContainerRemoved
  | ContainerHealthChanged
  | ExecCreated
  | ExecStarted
  | ExecExited;

export const containerStreamId = (id: string) => `container:${id}`;

/** Docker's zero time, as inspect prints a never-set StartedAt/FinishedAt. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
