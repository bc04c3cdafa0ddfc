/** Docker Engine API wire types for the system endpoints, PascalCase exactly as dockerd sends them. */

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

/** `GET /version` */
export interface SystemVersion {
  Platform: { Name: string };
  Components: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  Experimental?: boolean;
  BuildTime: string;
}

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface RegistryServiceConfig {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

export interface SwarmInfo {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: '' | 'inactive' | 'pending' | 'active' | 'error' | 'locked';
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: null | { NodeID: string; Addr: string }[];
}

export interface RuntimeInfo {
  path: string;
  runtimeArgs?: string[];
}

export interface CommitInfo {
  ID: string;
}

/** `GET /info` */
export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][];
  DockerRootDir: string;
  Plugins: { Volume: string[]; Network: string[]; Authorization: string[] | null; Log: string[] };
  MemoryLimit: boolean;
  SwapLimit: boolean;
  KernelMemoryTCP?: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  OomKillDisable: boolean;
  IPv4Forwarding: boolean;
  BridgeNfIptables?: boolean;
  BridgeNfIp6tables?: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: 'cgroupfs' | 'systemd' | 'none';
  CgroupVersion: '1' | '2';
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  IndexServerAddress: string;
  RegistryConfig: RegistryServiceConfig;
  GenericResources: null;
  HttpProxy: string;
  HttpsProxy: string;
  NoProxy: string;
  Name: string;
  Labels: string[];
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes: Record<string, RuntimeInfo>;
  DefaultRuntime: string;
  Swarm: SwarmInfo;
  LiveRestoreEnabled: boolean;
  Isolation: string;
  InitBinary: string;
  ContainerdCommit: CommitInfo;
  RuncCommit: CommitInfo;
  InitCommit: CommitInfo;
  SecurityOptions: string[];
  ProductLicense?: string;
  DefaultAddressPools: { Base: string; Size: number }[];
  FirewallBackend?: { Driver: string; Info?: [string, string][] };
  CDISpecDirs: string[];
  Containerd: null;
  Warnings: string[] | null;
}

/** `GET /events`: one JSON object per line (the legacy `status`/`id`/`from` fields up to API 1.51). */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
}

export type EventType =
  | 'builder'
  | 'config'
  | 'container'
  | 'daemon'
  | 'image'
  | 'network'
  | 'node'
  | 'plugin'
  | 'secret'
  | 'service'
  | 'volume';

/** Every error body: `{"message": "..."}`. */
export interface ErrorResponse {
  message: string;
}
