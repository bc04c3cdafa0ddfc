import { Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CgroupCapabilities {
  readonly version: '1' | '2';
  readonly memoryLimit: boolean;
  readonly swapLimit: boolean;
  readonly kernelMemoryTcp: boolean;
  readonly cpuCfsPeriod: boolean;
  readonly cpuCfsQuota: boolean;
  readonly cpuShares: boolean;
  readonly cpuSet: boolean;
  readonly pidsLimit: boolean;
  readonly oomKillDisable: boolean;
}

export interface OsRelease {
  readonly prettyName: string;
  readonly versionId: string;
}

/** `/etc/os-release` (KEY=value, values optionally quoted). */
export function parseOsRelease(text: string): OsRelease {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    values[m[1]] = m[2].replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1').replace(/\\(.)/g, '$1');
  }
  return { prettyName: values.PRETTY_NAME ?? values.NAME ?? 'Linux', versionId: values.VERSION_ID ?? '' };
}

/**
 * What `/sys/fs/cgroup` offers. cgroup v2 only when the root itself is a cgroup2 mount; hybrid hosts
 * (v1 controllers plus a cgroup2 mount at `unified/`) are v1, as dockerd reports them.
 */
export function detectCgroups(root = CGROUP_ROOT, fsType: () => number = () => statfsSync(root).type): CgroupCapabilities {
  let type = 0;
  try {
    type = fsType();
  } catch {
    type = 0;
  }
  if (type === CGROUP2_SUPER_MAGIC) {
    const controllers = new Set(readText(join(root, 'cgroup.controllers')).split(/\s+/).filter(Boolean));
    return {
      version: '2',
      memoryLimit: controllers.has('memory'),
      swapLimit: controllers.has('memory'),
      kernelMemoryTcp: false,
      cpuCfsPeriod: controllers.has('cpu'),
      cpuCfsQuota: controllers.has('cpu'),
      cpuShares: controllers.has('cpu'),
      cpuSet: controllers.has('cpuset'),
      pidsLimit: controllers.has('pids'),
      oomKillDisable: false,
    };
  }
  const at = (controller: string, file: string) => existsSync(join(root, controller, file));
  return {
    version: '1',
    memoryLimit: at('memory', 'memory.limit_in_bytes'),
    swapLimit: at('memory', 'memory.memsw.limit_in_bytes'),
    kernelMemoryTcp: at('memory', 'memory.kmem.tcp.limit_in_bytes'),
    cpuCfsPeriod: at('cpu', 'cpu.cfs_period_us'),
    cpuCfsQuota: at('cpu', 'cpu.cfs_quota_us'),
    cpuShares: at('cpu', 'cpu.shares'),
    cpuSet: at('cpuset', 'cpuset.cpus'),
    pidsLimit: existsSync(join(root, 'pids')),
    oomKillDisable: at('memory', 'memory.oom_control'),
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const readFlag = (path: string): boolean | undefined => {
  const v = readText(path).trim();
  return v === '' ? undefined : v === '1';
};

/** Facts about the machine, read from the kernel's files. Static ones are read once. */
@Injectable()
export class HostFacts {
  readonly kernelVersion = release();
  readonly osRelease = parseOsRelease(readText('/etc/os-release') || readText('/usr/lib/os-release'));
  readonly cgroups = detectCgroups();
  readonly ncpu = cpus().length;
  readonly memTotal = totalmem();
  readonly architecture = arch() === 'x64' ? 'x86_64' : arch() === 'arm64' ? 'aarch64' : arch();
  readonly goArch = arch() === 'x64' ? 'amd64' : arch();

  hostname(): string {
    return hostname();
  }

  ipv4Forwarding(): boolean {
    return readFlag('/proc/sys/net/ipv4/ip_forward') ?? false;
  }

  bridgeNfIptables(): boolean | undefined {
    return readFlag('/proc/sys/net/bridge/bridge-nf-call-iptables');
  }

  bridgeNfIp6tables(): boolean | undefined {
    return readFlag('/proc/sys/net/bridge/bridge-nf-call-ip6tables');
  }

  openFileDescriptors(): number {
    try {
      return readdirSync('/proc/self/fd').length;
    } catch {
      return 0;
    }
  }
}

const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
};

/** dockerd's name for the filesystem holding `path` ("Backing Filesystem" in `docker info`). */
export function backingFilesystem(path: string): string {
  try {
    const type = statfsSync(path).type;
    return FS_NAMES[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}
