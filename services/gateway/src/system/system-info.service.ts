import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { DomainError, SystemPatterns, type ContainersSummary, type ImagesSummary } from '@berth/contracts';
import type { SystemInfo } from '@berth/docker-api';
import { RpcClient } from '@berth/messaging';
import { GATEWAY_CONFIG } from '../config';
import { LiveDockerEvents } from '../events/live-docker-events';
import { backingFilesystem, HostFacts } from './host-facts';
import { SYSTEM_IDENTITY, type SystemIdentity } from './system-identity';

/** /info must answer even when a service is down: each figure waits this long at most. */
const SUMMARY_TIMEOUT_MS = 2_000;

/** `GET /info`: host facts plus live counts from the domain services. */
@Injectable()
export class SystemInfoService {
  private readonly logger = new Logger('info');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: BerthConfig,
    @Inject(SYSTEM_IDENTITY) private readonly identity: SystemIdentity,
    private readonly host: HostFacts,
    private readonly rpc: RpcClient,
    private readonly live: LiveDockerEvents,
  ) {}

  async info(): Promise<SystemInfo> {
    const warnings: string[] = [];
    const [containers, images] = await Promise.all([
      this.summary<ContainersSummary>('containers', warnings),
      this.summary<ImagesSummary>('images', warnings),
    ]);
    const { cgroups } = this.host;
    if (!cgroups.swapLimit) warnings.push('WARNING: No swap limit support');
    const bridgeNf = this.host.bridgeNfIptables();
    const bridgeNf6 = this.host.bridgeNfIp6tables();
    if (bridgeNf === false) warnings.push('WARNING: bridge-nf-call-iptables is disabled');
    if (bridgeNf6 === false) warnings.push('WARNING: bridge-nf-call-ip6tables is disabled');
    const mirrors = this.config['registry-mirrors'];
    const dataRoot = this.config['data-root'];

    return {
      ID: this.identity.engineId,
      Containers: containers?.total ?? 0,
      ContainersRunning: containers?.running ?? 0,
      ContainersPaused: containers?.paused ?? 0,
      ContainersStopped: containers?.stopped ?? 0,
      Images: images?.images ?? 0,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', backingFilesystem(dataRoot)],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      DockerRootDir: dataRoot,
      Plugins: {
        Volume: ['local'],
        Network: ['bridge', 'host', 'none'],
        Authorization: null,
        Log: ['json-file', 'local'],
      },
      MemoryLimit: cgroups.memoryLimit,
      SwapLimit: cgroups.swapLimit,
      KernelMemoryTCP: cgroups.kernelMemoryTcp,
      CpuCfsPeriod: cgroups.cpuCfsPeriod,
      CpuCfsQuota: cgroups.cpuCfsQuota,
      CPUShares: cgroups.cpuShares,
      CPUSet: cgroups.cpuSet,
      PidsLimit: cgroups.pidsLimit,
      OomKillDisable: cgroups.oomKillDisable,
      IPv4Forwarding: this.host.ipv4Forwarding(),
      ...(bridgeNf === undefined ? {} : { BridgeNfIptables: bridgeNf }),
      ...(bridgeNf6 === undefined ? {} : { BridgeNfIp6tables: bridgeNf6 }),
      Debug: this.config['log-level'] === 'debug',
      NFd: this.host.openFileDescriptors(),
      NGoroutines: process.getActiveResourcesInfo().length,
      SystemTime: rfc3339Nano(new Date()),
      LoggingDriver: this.config['log-driver'],
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgroups.version,
      NEventsListener: this.live.listenerCount,
      KernelVersion: this.host.kernelVersion,
      OperatingSystem: this.host.osRelease.prettyName,
      OSVersion: this.host.osRelease.versionId,
      OSType: 'linux',
      Architecture: this.host.architecture,
      NCPU: this.host.ncpu,
      MemTotal: this.host.memTotal,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8', ...this.config['insecure-registries'].filter(isCidr)],
        IndexConfigs: {
          'docker.io': { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true },
          ...Object.fromEntries(
            this.config['insecure-registries']
              .filter((r) => !isCidr(r))
              .map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
          ),
        },
        Mirrors: mirrors,
      },
      GenericResources: null,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: this.config.name ?? this.host.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: this.identity.build.version,
      Runtimes: { berth: { path: 'berth-executor' } },
      DefaultRuntime: 'berth',
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'berth-init',
      // No containerd or runc: the executor and berth-init are Berth's own, at Berth's commit.
      ContainerdCommit: { ID: 'n/a' },
      RuncCommit: { ID: this.identity.build.gitCommit },
      InitCommit: { ID: this.identity.build.gitCommit },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(this.config['userns-remap'] ? ['name=userns'] : [])],
      DefaultAddressPools: this.config['default-address-pools'].map((p) => ({ Base: p.base, Size: p.size })),
      CDISpecDirs: [],
      Containerd: null,
      Warnings: warnings.length ? warnings : null,
    };
  }

  private async summary<T>(service: 'containers' | 'images', warnings: string[]): Promise<T | null> {
    try {
      return await this.rpc.request<T>(SystemPatterns.summary(service), {}, { timeoutMs: SUMMARY_TIMEOUT_MS });
    } catch (e) {
      const error = DomainError.from(e);
      this.logger.warn(`${service}.summary: ${error.message}`);
      warnings.push(`WARNING: the ${service} service did not answer (${error.message}); its counts show 0`);
      return null;
    }
  }
}

const isCidr = (value: string) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(value);

/** Go's RFC3339Nano in local time, as dockerd formats SystemTime. */
function rfc3339Nano(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, -1);
  if (offset === 0) return `${local}Z`;
  const sign = offset > 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
