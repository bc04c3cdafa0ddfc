/**
 * Jobs on the per-node executor queue (`executorQueueName(nodeId)`). One name enum, one payload type
 * per job; the executor answers with the matching result type as the BullMQ job's return value.
 */
import type { NetworkEndpoint, PublishedPort } from './network';
import type * as images from './images';

/** A bridge network as the executor sets it up (names from `defaultBridgeName`/`userBridgeName`). */
export interface NetworkBridgeSpec {
  /** nft table of the namespace (`networkNftTable(namespace)`) */
  readonly table: string;
  readonly bridge: string;
  /** e.g. 172.17.0.0/16 */
  readonly subnet: string;
  /** e.g. 172.17.0.1 */
  readonly gateway: string;
  /** no masquerade / forwarding out of the host */
  readonly internal: boolean;
}

export enum ExecutorJob {
  Ping = 'ping',
  // Images: payloads and results in images.ts.
  ImagePullLayers = 'image.pull-layers',
  ImagePutBlobs = 'image.put-blobs',
  ImageRemoveLayers = 'image.remove-layers',
  ImagePushBlobs = 'image.push-blobs',
  ImageExport = 'image.export',
  ImageImportLayers = 'image.import-layers',
  CreateVolumeDir = 'volume.create-dir',
  RemoveVolumeDir = 'volume.remove-dir',
  /** Copy-up: an empty volume gets the image's content at a path (no-op when the volume has content). */
  PopulateVolumeDir = 'volume.populate-dir',
  NetworkHostRoutes = 'network.host-routes',
  NetworkEnsureBridge = 'network.ensure-bridge',
  NetworkRemoveBridge = 'network.remove-bridge',
  NetworkAttachNetns = 'network.attach-netns',
  NetworkDetachNetns = 'network.detach-netns',
  NetworkPublishPorts = 'network.publish-ports',
  NetworkUnpublishPorts = 'network.unpublish-ports',
  // Containers: see "Containers" below for the life cycle.
  ContainerPrepare = 'container.prepare',
  ContainerCreate = 'container.create',
  ContainerStart = 'container.start',
  ContainerSignal = 'container.signal',
  ContainerStop = 'container.stop',
  ContainerPause = 'container.pause',
  ContainerUnpause = 'container.unpause',
  ContainerUpdate = 'container.update',
  ContainerResize = 'container.resize',
  ContainerCloseStdin = 'container.close-stdin',
  ContainerStats = 'container.stats',
  ContainerTop = 'container.top',
  ContainerState = 'container.state',
  ContainerSize = 'container.size',
  ContainerRemove = 'container.remove',
  ContainerList = 'container.list',
  ExecCreate = 'exec.create',
  ExecStart = 'exec.start',
  ExecResize = 'exec.resize',
  ExecState = 'exec.state',
  /** Waits for an exec's exit (up to timeoutMs, then SIGKILL when asked); returns its captured output. */
  ExecWait = 'exec.wait',
}

export interface ExecutorJobPayloads {
  [ExecutorJob.Ping]: Record<string, never>;
  [ExecutorJob.ImagePullLayers]: images.PullLayersPayload;
  [ExecutorJob.ImagePutBlobs]: images.PutBlobsPayload;
  [ExecutorJob.ImageRemoveLayers]: images.RemoveLayersPayload;
  [ExecutorJob.ImagePushBlobs]: images.PushBlobsPayload;
  [ExecutorJob.ImageExport]: images.ExportImagesPayload;
  [ExecutorJob.ImageImportLayers]: images.ImportLayersPayload;
  [ExecutorJob.CreateVolumeDir]: { name: string };
  [ExecutorJob.RemoveVolumeDir]: { name: string };
  [ExecutorJob.PopulateVolumeDir]: { name: string; layerDirs: string[]; path: string };
  [ExecutorJob.ContainerPrepare]: ContainerPreparePayload;
  [ExecutorJob.ContainerCreate]: ContainerCreatePayload;
  [ExecutorJob.ContainerStart]: ContainerRef;
  [ExecutorJob.ContainerSignal]: ContainerRef & { signal: ContainerSignalName };
  [ExecutorJob.ContainerStop]: ContainerStopPayload;
  [ExecutorJob.ContainerPause]: ContainerRef;
  [ExecutorJob.ContainerUnpause]: ContainerRef;
  [ExecutorJob.ContainerUpdate]: ContainerRef & { resources: ContainerResources };
  [ExecutorJob.ContainerResize]: ContainerRef & { h: number; w: number };
  [ExecutorJob.ContainerCloseStdin]: ContainerRef;
  [ExecutorJob.ContainerStats]: ContainerRef;
  [ExecutorJob.ContainerTop]: ContainerRef & { psArgs?: string };
  [ExecutorJob.ContainerState]: ContainerRef;
  [ExecutorJob.ContainerSize]: ContainerRef;
  [ExecutorJob.ContainerRemove]: ContainerRef;
  [ExecutorJob.ContainerList]: Record<string, never>;
  [ExecutorJob.ExecCreate]: ExecCreatePayload;
  [ExecutorJob.ExecStart]: ExecRef;
  [ExecutorJob.ExecResize]: ExecRef & { h: number; w: number };
  [ExecutorJob.ExecState]: ExecRef;
  [ExecutorJob.ExecWait]: ExecRef & { timeoutMs: number; killOnTimeout?: boolean };
  /** `excludeDevs`: this namespace's own bridges, whose routes are no collision */
  [ExecutorJob.NetworkHostRoutes]: { excludeDevs?: string[] };
  [ExecutorJob.NetworkEnsureBridge]: NetworkBridgeSpec;
  [ExecutorJob.NetworkRemoveBridge]: NetworkBridgeSpec;
  [ExecutorJob.NetworkAttachNetns]: { containerPid: number; endpoint: NetworkEndpoint };
  [ExecutorJob.NetworkDetachNetns]: { endpoint: NetworkEndpoint };
  [ExecutorJob.NetworkPublishPorts]: { table: string; endpoint: NetworkEndpoint; ports: PublishedPort[] };
  [ExecutorJob.NetworkUnpublishPorts]: { table: string; endpointId: string };
}

export interface ExecutorJobResults {
  [ExecutorJob.Ping]: { nodeId: string; pid: number };
  [ExecutorJob.ImagePullLayers]: images.PullLayersResult;
  [ExecutorJob.ImagePutBlobs]: { stored: number };
  [ExecutorJob.ImageRemoveLayers]: images.RemoveLayersResult;
  [ExecutorJob.ImagePushBlobs]: images.PushBlobsResult;
  [ExecutorJob.ImageExport]: images.ExportImagesResult;
  [ExecutorJob.ImageImportLayers]: images.ImportLayersResult;
  [ExecutorJob.CreateVolumeDir]: { mountpoint: string };
  [ExecutorJob.RemoveVolumeDir]: { removed: boolean; bytes: number };
  [ExecutorJob.PopulateVolumeDir]: { copied: boolean };
  [ExecutorJob.ContainerPrepare]: { dir: string; rootfs: string };
  [ExecutorJob.ContainerCreate]: { pid: number; shimPid: number };
  [ExecutorJob.ContainerStart]: { pid: number; startedAt: string };
  [ExecutorJob.ContainerSignal]: { ok: true };
  [ExecutorJob.ContainerStop]: { exitCode: number; killed: boolean; exitedAt: string };
  [ExecutorJob.ContainerPause]: { ok: true };
  [ExecutorJob.ContainerUnpause]: { ok: true };
  [ExecutorJob.ContainerUpdate]: { warnings: string[] };
  [ExecutorJob.ContainerResize]: { ok: true };
  [ExecutorJob.ContainerCloseStdin]: { ok: true };
  [ExecutorJob.ContainerStats]: ContainerStatsResult;
  [ExecutorJob.ContainerTop]: { Titles: string[]; Processes: string[][] };
  [ExecutorJob.ContainerState]: ContainerRuntimeState;
  /** Bytes in the container's writable layer (Docker's SizeRw); 0 when it has none (yet). */
  [ExecutorJob.ContainerSize]: { sizeRw: number };
  [ExecutorJob.ContainerRemove]: { removed: boolean };
  /** Every container this node holds files or a shim state dir for, with the age of its newest one in ms. */
  [ExecutorJob.ContainerList]: { containers: { id: string; ageMs: number }[] };
  [ExecutorJob.ExecCreate]: { pid: number; shimPid: number };
  [ExecutorJob.ExecStart]: { pid: number; startedAt: string };
  [ExecutorJob.ExecResize]: { ok: true };
  [ExecutorJob.ExecState]: ExecRuntimeState;
  /** output: the captured stdout+stderr (captureOutput execs), at most 4096 bytes as Docker keeps for health checks */
  [ExecutorJob.ExecWait]: { exitCode: number | null; timedOut: boolean; output: string; exitedAt: string | null };
  /** IPv4 destinations (CIDR) of the host's routes (the default route left out) */
  [ExecutorJob.NetworkHostRoutes]: { routes: string[] };
  [ExecutorJob.NetworkEnsureBridge]: { created: boolean };
  [ExecutorJob.NetworkRemoveBridge]: { removed: boolean };
  [ExecutorJob.NetworkAttachNetns]: { hostVeth: string };
  [ExecutorJob.NetworkDetachNetns]: { removed: boolean };
  /** the ports as published (HostPort 0 replaced by the port picked) */
  [ExecutorJob.NetworkPublishPorts]: { ports: PublishedPort[] };
  [ExecutorJob.NetworkUnpublishPorts]: { removed: number };
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

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Containers
//
//  container.prepare   once per container (docker create): <data-root>/containers/<id>/ with the
//                      overlay upper/ and work/ dirs and rootfs/ (the mount point). Idempotent.
//  container.create    per run (docker start): writes hostname/hosts/resolv.conf and config.json,
//                      spawns berth-shim; the process exists (namespaces, mounts, cgroup done) but
//                      waits before execve. attach.sock is ready now: a gateway attaches here, and
//                      the network service moves veths into /proc/<pid>/ns/net here (mode 'private').
//                      A previous run's leftovers (exited shim, cgroup) are cleaned first.
//  container.start     execve; observation `container.started`. Later `container.exited`.
//  container.remove    shim shutdown (kills what still runs), cgroup removed, overlay unmounted,
//                      state and container dirs deleted: nothing left in /proc/mounts or cgroups.
//
//  exec.create / exec.start: the same two steps for a process joining a running container.
//
// Errors (DomainError codes): NOT_FOUND no such container/exec on this node; CONFLICT wrong state
// (not running, already started, paused); INVALID_ARGUMENT bad spec; INTERNAL setup failures with
// berth-init's message ("mount `proc on /proc`: …", `exec: "x": executable file not found in $PATH`).
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface ContainerRef {
  /** Docker's 64-hex container id. */
  id: string;
}
export interface ExecRef {
  containerId: string;
  /** Docker's 64-hex exec id. */
  execId: string;
}

/** `SIGTERM`, `TERM`, or a number as a string/number (Docker's `--signal` / STOPSIGNAL forms). */
export type ContainerSignalName = string | number;

export interface ContainerPreparePayload {
  id: string;
  /** Absolute unpacked layer dirs (images' `layers/<chainID>/`), TOP FIRST (overlay lowerdir order). */
  layerDirs: string[];
}

export interface ContainerCreatePayload {
  id: string;
  spec: ContainerRuntimeSpec;
  /** When given and the container is not prepared on this node yet, create prepares it first (one job). */
  layerDirs?: string[];
}

export interface ContainerRuntimeSpec {
  process: ContainerProcessSpec;
  hostname: string;
  domainname?: string;
  mounts: ContainerMount[];
  readonlyRootfs?: boolean;
  privileged?: boolean;
  /** Docker names with or without CAP_ (`NET_ADMIN`, `CAP_SYS_TIME`, `ALL`). */
  capAdd?: string[];
  capDrop?: string[];
  /** Docker's `--security-opt` values: `seccomp=unconfined`, `seccomp=<profile JSON text>`, `no-new-privileges[=true]`; apparmor/label ignored. */
  securityOpt?: string[];
  resources?: ContainerResources;
  /** Docker's HostConfig.Ulimits: `{Name: 'nofile', Soft, Hard}`. */
  ulimits?: { Name: string; Soft: number; Hard: number }[];
  /** `--init`: a reaper as PID 1 that forwards signals. */
  init?: boolean;
  /** /dev/shm size in bytes (Docker default 64 MiB). */
  shmSize?: number;
  oomScoreAdj?: number;
  /** json-file options; maxSize in bytes (<= 0 or absent: no rotation), maxFile default 1. */
  log?: { maxSize?: number; maxFile?: number };
  networkNamespace: ContainerNetworkNamespace;
  /** /etc/hosts beyond localhost: the container's own address(es) + `--add-host`. */
  hostsEntries?: { address: string; hostnames: string[] }[];
  /** resolv.conf; absent: the host's /etc/resolv.conf without loopback nameservers (8.8.8.8/8.8.4.4 if none remain). */
  dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
}

export interface ContainerProcessSpec {
  /** Entrypoint + Cmd, resolved by the service; args[0] is looked up in the container's PATH. */
  args: string[];
  /** `KEY=value`, image env merged with the request's; PATH and HOSTNAME are added when missing. */
  env: string[];
  /** default `/`; created when missing. */
  cwd?: string;
  /** Docker's `--user`: `uid`, `uid:gid`, `name`, `name:group`; empty/absent: root. */
  user?: string;
  /** `--group-add` gids. */
  additionalGids?: number[];
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
}

export type ContainerMount =
  | { type: 'bind'; source: string; destination: string; readonly?: boolean; propagation?: 'rprivate' | 'private' | 'rshared' | 'shared' | 'rslave' | 'slave' }
  /** source: the volume's host path (`volumes/<name>/_data`), resolved by the service. */
  | { type: 'volume'; source: string; destination: string; readonly?: boolean }
  | { type: 'tmpfs'; destination: string; sizeBytes?: number; mode?: number; options?: string[] };

/**
 * 'none': own netns with lo only. 'private': own netns; the network service attaches endpoints
 * between create and start (pid from container.create). 'host': the host's. 'join': an existing
 * netns path (`/proc/<pid>/ns/net` of another container for `--network container:x`).
 */
export type ContainerNetworkNamespace =
  | { mode: 'none' }
  | { mode: 'private' }
  | { mode: 'host' }
  | { mode: 'join'; path: string };

/** Docker HostConfig names (camelCase). 0/absent: unset. memorySwap -1: unlimited. */
export interface ContainerResources {
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  oomKillDisable?: boolean;
  nanoCpus?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** 0 or -1: unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
}

export interface ContainerStopPayload {
  id: string;
  /** Image STOPSIGNAL or the request's; default SIGTERM. */
  signal?: ContainerSignalName;
  /** Then SIGKILL. Docker's default is 10; 0 kills at once; -1 waits forever. */
  timeoutSeconds?: number;
}

export interface ExecCreatePayload {
  containerId: string;
  execId: string;
  process: ContainerProcessSpec;
  privileged?: boolean;
  /** keep stdout+stderr in the exec's state dir (health checks: no client attaches) for exec.wait */
  captureOutput?: boolean;
}

export type ContainerRuntimeStatus = 'absent' | 'prepared' | 'created' | 'running' | 'paused' | 'exited';

export interface ContainerRuntimeState {
  status: ContainerRuntimeStatus;
  pid: number;
  shimPid: number;
  startedAt: string | null;
  exitCode: number | null;
  exitedAt: string | null;
  oomKilled: boolean;
}

export interface ExecRuntimeState {
  status: 'absent' | 'created' | 'running' | 'exited';
  pid: number;
  exitCode: number | null;
}

/** The fields of Docker's `GET /containers/{id}/stats` one sample; the gateway adds `precpu_stats` from the previous one. */
export interface ContainerStatsResult {
  read: string;
  pids_stats: { current: number; limit?: number };
  cpu_stats: {
    cpu_usage: { total_usage: number; percpu_usage: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
    system_cpu_usage: number;
    online_cpus: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: { usage: number; max_usage: number; limit: number; failcnt: number; stats: Record<string, number> };
  blkio_stats: {
    io_service_bytes_recursive: { major: number; minor: number; op: string; value: number }[] | null;
    io_serviced_recursive: { major: number; minor: number; op: string; value: number }[] | null;
    io_queue_recursive: null;
    io_service_time_recursive: null;
    io_wait_time_recursive: null;
    io_merged_recursive: null;
    io_time_recursive: null;
    sectors_recursive: null;
  };
  networks: Record<
    string,
    { rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number; tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number }
  >;
}

/**
 * Observation kinds about containers (`ExecutorObservation.kind`); `subject` is the container id.
 * observationId is stable per fact (a restarted executor re-reporting the same exit reuses it):
 * `<id>:started:<startedAt>`, `<id>:exited:<startedAt>`, `<id>:oom:<startedAt>:<n>`,
 * `<id>:exec:<execId>:exited`, `<id>:shim-lost:<startedAt>`, `<id>:orphan:<what>:<observedAt>`.
 */
export enum ContainerObservation {
  Started = 'container.started',
  Exited = 'container.exited',
  Oom = 'container.oom',
  ShimLost = 'container.shim-lost',
  ExecStarted = 'exec.started',
  ExecExited = 'exec.exited',
  /** reconcile removed something no state dir claims (data.what: cgroup | mount | shim | state-dir). */
  OrphanRemoved = 'container.orphan-removed',
}

export interface ContainerObservationData {
  [ContainerObservation.Started]: { pid: number; startedAt: string };
  [ContainerObservation.Exited]: { pid: number; exitCode: number; signal: number | null; exitedAt: string; oomKilled: boolean; startedAt: string };
  [ContainerObservation.Oom]: { startedAt: string };
  /** The shim died without recording an exit (exit code unknown: reported as 137 by convention of the service). */
  [ContainerObservation.ShimLost]: { pid: number; startedAt: string | null };
  [ContainerObservation.ExecStarted]: { execId: string; pid: number; startedAt: string };
  [ContainerObservation.ExecExited]: { execId: string; exitCode: number; exitedAt: string };
  [ContainerObservation.OrphanRemoved]: { what: 'cgroup' | 'mount' | 'shim' | 'state-dir'; path: string };
}

/**
 * Where a container's files are on its node. The gateway on the same node streams bytes from these
 * directly (attach, logs, exec attach); nothing of that goes through Redis.
 *
 * The shims' state dirs (sockets, run/exit records) are runtime state: they live under the exec root
 * (`/run/berth` by default, a tmpfs: no disk metadata writes on the create/start/exit path, and gone
 * after a reboot, when the containers are too). Unix socket paths are limited to 108 bytes (sun_path),
 * so they are short: `<exec-root>/s/<first 12 of id>[/e<first 12 of execId>]/attach.sock` = exec-root
 * + 41 bytes at most; keep exec-root under 64 bytes. Everything else is under `<data-root>/containers/<id>/`.
 */
export function containerPaths(dataRoot: string, execRoot: string, id: string) {
  const dir = `${dataRoot}/containers/${id}`;
  const stateDir = `${execRoot}/s/${id.slice(0, 12)}`;
  return {
    /** what outlives a run: layers.json, the writable layer (upper, work), the rootfs mountpoint, container.log */
    dir,
    /**
     * A run's bundle files are written by every create into its state dir on the exec root (a tmpfs:
     * no disk inodes made and freed per run), as runc keeps its runtime state: berth-init's `run
     * <stateDir>` reads config.json there, and /etc/hostname, /etc/hosts, /etc/resolv.conf are bound
     * from there.
     */
    configJson: `${stateDir}/config.json`,
    /** where an executor before the move wrote config.json (containers it started read theirs there) */
    legacyConfigJson: `${dir}/config.json`,
    rootfs: `${dir}/rootfs`,
    upper: `${dir}/upper`,
    work: `${dir}/work`,
    hostname: `${stateDir}/hostname`,
    hosts: `${stateDir}/hosts`,
    resolvConf: `${stateDir}/resolv.conf`,
    /** Docker json-file format; rotated files are `container.log.1` … `.<maxFile-1>` */
    log: `${dir}/container.log`,
    /** berth-shim state dir (control.sock, attach.sock, shim.json, exit.json, shim.log) and the run's bundle files */
    stateDir,
    attachSocket: `${stateDir}/attach.sock`,
    controlSocket: `${stateDir}/control.sock`,
    /** the cgroup path relative to each hierarchy root */
    cgroup: `berth/${id}`,
    exec(execId: string) {
      const execDir = `${stateDir}/e${execId.slice(0, 12)}`;
      return { stateDir: execDir, attachSocket: `${execDir}/attach.sock`, controlSocket: `${execDir}/control.sock`, json: `${execDir}/exec.json` };
    },
  };
}
export type ContainerPaths = ReturnType<typeof containerPaths>;

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Executor stream socket: bytes that must not cross Redis (docker cp, export, diff).
//
//  `<exec-root>/executor.sock` (unix, 0600, root only; the gateway on the same node connects).
//  client → one JSON line `ExecutorStreamRequest`, then (put only) the raw tar, then half-close.
//  executor → one JSON line `ExecutorStreamHeader`; then the raw tar (get, export); put ends with
//  a second header line once the tar is extracted (`{ok:true}` or the error). A get/export that
//  fails mid-stream is cut (the socket is destroyed, not ended).
//  Error codes: not_found (the path; the gateway words it "Could not find the file <path> in
//  container <name>"), no_such_container, invalid (400), internal (500).
// ────────────────────────────────────────────────────────────────────────────────────────────────

export function executorStreamSocket(execRoot: string): string {
  return `${execRoot}/executor.sock`;
}

export type ExecutorStreamRequest =
  | { op: 'stat' | 'get'; containerId: string; path: string }
  | { op: 'put'; containerId: string; path: string; noOverwriteDirNonDir?: boolean; /** Config.User when copyUIDGID */ user?: string }
  | { op: 'export' | 'changes'; containerId: string };

/** Docker's ContainerPathStat (`X-Docker-Container-Path-Stat`); mode in Go os.FileMode bits. */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Docker's `GET /containers/{id}/changes` entries: Kind 0 modified, 1 added, 2 deleted. */
export interface ContainerChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

export type ExecutorStreamHeader =
  | { ok: true; stat?: ContainerPathStat; changes?: ContainerChange[] }
  | { ok: false; code: 'not_found' | 'no_such_container' | 'invalid' | 'internal'; message: string };
