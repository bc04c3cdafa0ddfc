/**
 * ContainerRuntimeSpec (the service's Docker-shaped request) → berth-init's config.json
 * (PROTOCOL.md), plus the /etc files Docker bind-mounts into every container.
 */
import type { ContainerMount, ContainerResources, ContainerRuntimeSpec, ContainerPaths } from '@berth/contracts';
import { invalid } from '@berth/contracts';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
/** Every capability Linux knows today (berth-init skips those the host's bounding set lacks). */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const capName = (c: string) => {
  const u = c.trim().toUpperCase();
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
};

/** Docker's TweakCapabilities: ALL in add/drop, drop wins over the defaults, add wins over drop of defaults. */
export function capabilitySet(spec: Pick<ContainerRuntimeSpec, 'privileged' | 'capAdd' | 'capDrop'>): string[] {
  if (spec.privileged) return [...ALL_CAPS];
  const add = (spec.capAdd ?? []).map(capName);
  const drop = (spec.capDrop ?? []).map(capName);
  for (const c of [...add, ...drop]) {
    if (c !== 'CAP_ALL' && !ALL_CAPS.includes(c)) throw invalid(`unknown capability: "${c}"`);
  }
  let caps = drop.includes('CAP_ALL') ? [] : DEFAULT_CAPS.filter((c) => !drop.includes(c));
  if (add.includes('CAP_ALL')) caps = [...ALL_CAPS];
  else for (const c of add) if (!caps.includes(c)) caps.push(c);
  return caps;
}

export interface SecurityOptions {
  seccomp: 'default' | 'unconfined' | { profile: string };
  noNewPrivileges: boolean;
}

export function securityOptions(spec: Pick<ContainerRuntimeSpec, 'securityOpt' | 'privileged'>): SecurityOptions {
  let seccomp: SecurityOptions['seccomp'] = spec.privileged ? 'unconfined' : 'default';
  let noNewPrivileges = false;
  for (const opt of spec.securityOpt ?? []) {
    const eq = opt.indexOf('=');
    const sep = eq >= 0 ? eq : opt.indexOf(':');
    const key = sep >= 0 ? opt.slice(0, sep) : opt;
    const value = sep >= 0 ? opt.slice(sep + 1) : '';
    if (key === 'no-new-privileges') {
      if (value !== '' && value !== 'true' && value !== 'false') throw invalid(`invalid --security-opt 2: "${opt}"`);
      noNewPrivileges = value !== 'false';
    } else if (key === 'seccomp') {
      if (value === 'unconfined') seccomp = 'unconfined';
      else if (value.trim().startsWith('{')) seccomp = spec.privileged ? 'unconfined' : { profile: value };
      else throw invalid(`invalid --security-opt seccomp: "${value}" (the service passes the profile's JSON)`);
    } else if (key === 'apparmor' || key === 'label' || key === 'systempaths') {
      // no LSM on these nodes; accepted like dockerd does when the LSM is disabled
    } else {
      throw invalid(`invalid --security-opt 1: "${opt}"`);
    }
  }
  return { seccomp, noNewPrivileges };
}

/** Docker HostConfig resources → berth-init's OCI linux.resources subset (create and update). */
export function ociResources(r: ContainerResources | undefined, forCreate: boolean): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  if (!r) return out;
  const memory: Record<string, unknown> = {};
  if (r.memory && r.memory > 0) {
    memory.limit = r.memory;
    // Docker: no --memory-swap means swap = 2 × memory.
    if (r.memorySwap === undefined || r.memorySwap === 0) {
      if (forCreate) memory.swap = r.memory * 2;
    }
  }
  if (r.memorySwap !== undefined && r.memorySwap !== 0) memory.swap = r.memorySwap;
  if (r.memoryReservation && r.memoryReservation > 0) memory.reservation = r.memoryReservation;
  if (r.oomKillDisable !== undefined) memory.disableOOMKiller = r.oomKillDisable;
  if (Object.keys(memory).length) out.memory = memory;

  const cpu: Record<string, unknown> = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.nanoCpus && r.nanoCpus > 0) {
    if (r.cpuQuota) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    cpu.period = 100000;
    cpu.quota = Math.round((r.nanoCpus * 100000) / 1e9);
  } else {
    if (r.cpuQuota) cpu.quota = r.cpuQuota;
    if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  }
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.pidsLimit !== undefined && r.pidsLimit !== 0) out.pids = { limit: r.pidsLimit > 0 ? r.pidsLimit : -1 };
  if (r.blkioWeight) out.blockIO = { weight: r.blkioWeight };
  return out;
}

const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

function ociMount(m: ContainerMount) {
  if (m.type === 'tmpfs') {
    const opts = ['nosuid', 'nodev', 'noexec', ...(m.options ?? [])];
    if (m.sizeBytes) opts.push(`size=${Math.ceil(m.sizeBytes / 1024)}k`);
    if (m.mode !== undefined) opts.push(`mode=${m.mode.toString(8)}`);
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: opts };
  }
  const propagation = m.type === 'bind' && m.propagation ? m.propagation : 'rprivate';
  return {
    destination: m.destination,
    type: 'bind',
    source: m.source,
    options: ['rbind', propagation, ...(m.readonly ? ['ro'] : [])],
  };
}

export interface BundleInputs {
  id: string;
  spec: ContainerRuntimeSpec;
  paths: ContainerPaths;
  lowerdirs: string[];
  /** compiled BPF path, or null for unconfined */
  seccompPath: string | null;
  caps: string[];
  noNewPrivileges: boolean;
}

export function configJson(i: BundleInputs): Record<string, unknown> {
  const { spec, paths } = i;
  const p = spec.process;
  if (!p.args?.length) throw invalid('No command specified');
  const env = [...p.env];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.splice(1, 0, `HOSTNAME=${spec.hostname}`);
  if (p.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const user: Record<string, unknown> = p.user ? { username: p.user } : { uid: 0, gid: 0 };
  if (p.additionalGids?.length) user.additionalGids = p.additionalGids;

  const userDest = new Set(spec.mounts.map((m) => m.destination.replace(/\/+$/, '')));
  const etc = [
    ['/etc/hostname', paths.hostname],
    ['/etc/hosts', paths.hosts],
    ['/etc/resolv.conf', paths.resolvConf],
  ]
    .filter(([dest]) => !userDest.has(dest!))
    .map(([destination, source]) => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] }));
  const mounts: unknown[] = [];
  if (spec.shmSize && spec.shmSize > 0 && !userDest.has('/dev/shm')) {
    mounts.push({
      destination: '/dev/shm', type: 'tmpfs', source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.ceil(spec.shmSize / 1024)}k`],
    });
  }
  mounts.push(...etc, ...spec.mounts.map(ociMount));

  const namespaces: Record<string, string>[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  const net = spec.networkNamespace;
  if (net.mode === 'none' || net.mode === 'private') namespaces.push({ type: 'network' });
  else if (net.mode === 'join') namespaces.push({ type: 'network', path: net.path });

  const rlimits = (spec.ulimits ?? []).map((u) => {
    const type = RLIMITS[u.Name.toLowerCase()];
    if (!type) throw invalid(`invalid ulimit type: ${u.Name}`);
    return { type, soft: u.Soft, hard: u.Hard };
  });
  const caps = i.caps;
  return {
    process: {
      args: p.args,
      env,
      cwd: p.cwd || '/',
      terminal: !!p.tty,
      user,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits,
      noNewPrivileges: i.noNewPrivileges,
      ...(spec.oomScoreAdj !== undefined ? { oomScoreAdj: spec.oomScoreAdj } : {}),
    },
    root: { path: paths.rootfs, readonly: !!spec.readonlyRootfs },
    rootfs: { lowerdirs: i.lowerdirs, upperdir: paths.upper, workdir: paths.work },
    hostname: spec.hostname,
    domainname: spec.domainname ?? '',
    mounts,
    defaultMounts: true,
    privileged: !!spec.privileged,
    init: !!spec.init,
    linux: {
      namespaces,
      maskedPaths: spec.privileged ? [] : MASKED_PATHS,
      readonlyPaths: spec.privileged ? [] : READONLY_PATHS,
      cgroupsPath: paths.cgroup,
      resources: { ...ociResources(spec.resources, true), ...(spec.privileged ? { devicesAllowAll: true } : {}) },
      seccomp: i.seccompPath,
    },
  };
}

/** /etc/hosts: Docker's defaults and the container's entries; on the host's network, the host's file and the extra hosts. */
export function hostsFile(spec: ContainerRuntimeSpec, hostHosts = '/etc/hosts'): string {
  if (spec.networkNamespace.mode === 'host') {
    let own = '';
    try {
      own = readFileSync(hostHosts, 'utf8');
    } catch {
      own = '127.0.0.1\tlocalhost\n';
    }
    if (own && !own.endsWith('\n')) own += '\n';
    return own + (spec.hostsEntries ?? []).map((e) => `${e.address}\t${e.hostnames.join(' ')}\n`).join('');
  }
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of spec.hostsEntries ?? []) lines.push(`${e.address}\t${e.hostnames.join(' ')}`);
  return lines.join('\n') + '\n';
}

export function resolvConf(spec: ContainerRuntimeSpec, hostResolvConf = '/etc/resolv.conf'): string {
  if (spec.networkNamespace.mode === 'host' && !spec.dns) {
    try {
      return readFileSync(hostResolvConf, 'utf8');
    } catch {
      return '';
    }
  }
  let nameservers = spec.dns?.nameservers ?? [];
  let search = spec.dns?.search ?? [];
  let options = spec.dns?.options ?? [];
  if (!spec.dns?.nameservers?.length || !spec.dns?.search || !spec.dns?.options) {
    let host = '';
    try {
      host = readFileSync(hostResolvConf, 'utf8');
    } catch {
      /* none */
    }
    const fromHost = (key: string) =>
      host.split('\n').filter((l) => l.startsWith(key + ' ') || l.startsWith(key + '\t')).flatMap((l) => l.trim().split(/\s+/).slice(1));
    if (!spec.dns?.nameservers?.length) {
      // Docker drops loopback resolvers (unreachable from a private netns) and falls back to Google's.
      nameservers = fromHost('nameserver').filter((n) => !/^127\.|^::1$/.test(n));
      if (!nameservers.length) nameservers = ['8.8.8.8', '8.8.4.4'];
    }
    if (!spec.dns?.search) search = fromHost('search');
    if (!spec.dns?.options) options = fromHost('options');
  }
  return (
    [
      ...(search.length ? [`search ${search.join(' ')}`] : []),
      ...nameservers.map((n) => `nameserver ${n}`),
      ...(options.length ? [`options ${options.join(' ')}`] : []),
    ].join('\n') + '\n'
  );
}

/** `SIGTERM`, `TERM`, `15`, 15 → 15. */
export function signalNumber(signal: string | number | undefined, fallback = 15): number {
  if (signal === undefined || signal === '') return fallback;
  if (typeof signal === 'number') return signal;
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw invalid(`Invalid signal: ${signal}`);
  return n;
}
