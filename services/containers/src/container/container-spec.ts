import {
  type ContainerConfig,
  type ContainerMount,
  type ContainerNetworkNamespace,
  type ContainerResources,
  type ContainerRuntimeSpec,
  type HostConfig,
  invalid,
  type ResolvedImageView,
  type ResolvedMount,
} from '@berth/contracts';
import { hostname } from 'node:os';
import type { ContainerState } from './container.decider';
import { mergeHealthcheck, validateHealthcheck } from './health/health-config';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `KEY=v` lists merged by key, later wins (image env first, then the request's). */
export function mergeEnv(...lists: (readonly string[] | null | undefined)[]): string[] {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list ?? []) {
      const key = entry.split('=')[0]!;
      out.set(key, entry);
    }
  }
  return [...out.values()];
}

const nonEmpty = (a: readonly string[] | null | undefined): a is string[] => Array.isArray(a) && a.length > 0;

export interface NormalizedCreate {
  readonly config: ContainerConfig;
  readonly hostConfig: HostConfig;
  readonly path: string;
  readonly args: string[];
  readonly mounts: ResolvedMount[];
  readonly warnings: string[];
}

const RESTART = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);
const NETWORK_MODE = /^(default|bridge|host|none|container:.+|[a-zA-Z0-9][a-zA-Z0-9_.-]*)$/;

/**
 * Docker's create-time semantics: image defaults under the request's Config, HostConfig checks with
 * dockerd's wording, mounts resolved. Pure; throws INVALID_ARGUMENT before anything is created.
 */
export function normalizeCreate(
  config: ContainerConfig,
  host: HostConfig,
  image: ResolvedImageView,
  volumeMountpoints: Record<string, string>,
  /** destination -> name of the anonymous volume created for it (see anonymousVolumeTargets) */
  anonymousAt: Record<string, string> = {},
): NormalizedCreate {
  const ic = image.config ?? {};
  const warnings: string[] = [];
  // Docker: a request Entrypoint resets the image's Cmd too.
  const entrypoint = config.Entrypoint != null ? config.Entrypoint : (ic.Entrypoint ?? null);
  const cmd = nonEmpty(config.Cmd) ? config.Cmd : config.Entrypoint != null ? null : (ic.Cmd ?? null);
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (args.length === 0) throw invalid('no command specified');
  const labels = { ...(ic.Labels ?? {}), ...(config.Labels ?? {}) };
  const env = mergeEnv(ic.Env ?? [DEFAULT_PATH], config.Env);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  const merged: ContainerConfig = {
    ...config,
    // Docker: on the host's network, the host's name
    Hostname: config.Hostname || (host.NetworkMode === 'host' ? hostname() : ''),
    Domainname: config.Domainname ?? '',
    User: config.User || ic.User || '',
    AttachStdin: !!config.AttachStdin,
    AttachStdout: !!config.AttachStdout,
    AttachStderr: !!config.AttachStderr,
    ExposedPorts: { ...(ic.ExposedPorts ?? {}), ...(config.ExposedPorts ?? {}) },
    Tty: !!config.Tty,
    OpenStdin: !!config.OpenStdin,
    StdinOnce: !!config.StdinOnce,
    Env: env,
    Cmd: cmd,
    Image: config.Image ?? '',
    Volumes: config.Volumes || ic.Volumes ? { ...(ic.Volumes ?? {}), ...(config.Volumes ?? {}) } : null,
    WorkingDir: config.WorkingDir || ic.WorkingDir || '',
    Entrypoint: entrypoint,
    Labels: labels,
    ...(config.StopSignal || ic.StopSignal ? { StopSignal: config.StopSignal || ic.StopSignal } : {}),
    ...(config.Healthcheck || ic.Healthcheck ? { Healthcheck: mergeHealthcheck(config.Healthcheck, ic.Healthcheck) } : {}),
  };
  if (merged.ExposedPorts && Object.keys(merged.ExposedPorts).length === 0) delete merged.ExposedPorts;
  validateHealthcheck(merged.Healthcheck);
  if (merged.WorkingDir && !merged.WorkingDir.startsWith('/')) {
    throw invalid(`the working directory '${merged.WorkingDir}' is invalid, it needs to be an absolute path`);
  }

  for (const [field, v] of [
    ['Memory', host.Memory],
    ['MemoryReservation', host.MemoryReservation],
    ['NanoCpus', host.NanoCpus],
    ['CpuShares', host.CpuShares],
    ['CpuQuota', host.CpuQuota],
    ['CpuPeriod', host.CpuPeriod],
    ['ShmSize', host.ShmSize],
  ] as const) {
    if (typeof v === 'number' && v < 0) {
      throw invalid(field === 'ShmSize' ? 'SHM size can not be less than 0' : `invalid ${field}: must be a positive integer, got ${v}`);
    }
  }
  if (host.Memory && host.Memory > 0 && host.Memory < 6 * 1024 * 1024) {
    throw invalid('Minimum memory limit allowed is 6MB');
  }
  if (host.NanoCpus && (host.CpuQuota || host.CpuPeriod)) {
    throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (host.Memory && host.MemorySwap && host.MemorySwap > 0 && host.MemorySwap < host.Memory) {
    throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  const restart = host.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
  if (!RESTART.has(restart.Name ?? '')) throw invalid(`invalid restart policy: unknown policy '${restart.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if ((restart.MaximumRetryCount ?? 0) < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
  if (restart.MaximumRetryCount && restart.Name !== 'on-failure') {
    throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (host.AutoRemove && restart.Name && restart.Name !== 'no') {
    throw invalid(`can't create 'AutoRemove' container with restart policy`);
  }
  const networkMode = host.NetworkMode || 'default';
  if (!NETWORK_MODE.test(networkMode)) throw invalid(`invalid network mode: ${networkMode}`);
  const logType = host.LogConfig?.Type || 'json-file';
  if (logType !== 'json-file' && logType !== 'local' && logType !== 'none') {
    throw invalid(`logger: no log driver named '${logType}' is registered`);
  }

  const hostConfig: HostConfig = {
    ...host,
    NetworkMode: networkMode,
    RestartPolicy: { Name: restart.Name || 'no', MaximumRetryCount: restart.MaximumRetryCount ?? 0 },
    AutoRemove: !!host.AutoRemove,
    LogConfig: { Type: logType, Config: host.LogConfig?.Config ?? {} },
    ShmSize: host.ShmSize || 64 * 1024 * 1024,
    Binds: host.Binds ?? null,
    Privileged: !!host.Privileged,
    ReadonlyRootfs: !!host.ReadonlyRootfs,
  };
  return { config: merged, hostConfig, path: args[0]!, args: args.slice(1), mounts: resolveMounts(hostConfig, volumeMountpoints, anonymousAt), warnings };
}

/** Binds (`src:dst[:ro|rw|z|Z|propagation]`), Mounts and Tmpfs -> resolved mounts, in Docker's order. */
export function resolveMounts(
  host: HostConfig,
  volumeMountpoints: Record<string, string>,
  anonymousAt: Record<string, string> = {},
): ResolvedMount[] {
  const out: ResolvedMount[] = [];
  const seen = new Set<string>();
  const add = (m: ResolvedMount) => {
    if (!m.destination.startsWith('/')) throw invalid(`invalid mount config: mount path must be absolute: ${m.destination}`);
    if (seen.has(m.destination)) throw invalid(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
    out.push(m);
  };
  for (const bind of host.Binds ?? []) {
    const parts = bind.split(':');
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw invalid(`invalid volume specification: '${bind}'`);
    const [src, dst, opts = ''] = parts as [string, string, string?];
    const flags = opts.split(',').filter(Boolean);
    const ro = flags.includes('ro');
    const propagation = flags.find((f) => /^r?(private|shared|slave)$/.test(f)) ?? 'rprivate';
    if (src.startsWith('/')) {
      add({ type: 'bind', name: '', source: src, destination: dst, readonly: ro, mode: opts, propagation });
    } else {
      const mp = volumeMountpoints[src];
      if (!mp) throw invalid(`invalid volume specification: '${bind}': volume ${src} was not resolved`);
      add({ type: 'volume', name: src, source: mp, destination: dst, readonly: ro, mode: opts || 'z', propagation: '' });
    }
  }
  for (const m of host.Mounts ?? []) {
    const target = m.Target ?? '';
    if (!target) throw invalid('invalid mount config: Target must not be empty');
    switch (m.Type) {
      case 'bind':
        if (!m.Source || !m.Source.startsWith('/')) throw invalid(`invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`);
        add({ type: 'bind', name: '', source: m.Source, destination: target, readonly: !!m.ReadOnly, mode: '', propagation: m.BindOptions?.Propagation || 'rprivate' });
        break;
      case 'volume': {
        const anonymous = !m.Source;
        const name = m.Source || anonymousAt[target] || '';
        const mp = volumeMountpoints[name];
        if (!mp) throw invalid(`invalid mount config for type "volume": volume ${name} was not resolved`);
        add({ type: 'volume', name, source: mp, destination: target, readonly: !!m.ReadOnly, mode: anonymous ? '' : 'z', propagation: '' });
        break;
      }
      case 'tmpfs': {
        const opts = [m.TmpfsOptions?.SizeBytes ? `size=${m.TmpfsOptions.SizeBytes}` : '', m.TmpfsOptions?.Mode ? `mode=${m.TmpfsOptions.Mode.toString(8)}` : '']
          .filter(Boolean)
          .join(',');
        add({ type: 'tmpfs', name: '', source: '', destination: target, readonly: !!m.ReadOnly, mode: '', propagation: '', options: opts });
        break;
      }
      default:
        throw invalid(`invalid mount config for type "${m.Type ?? ''}": mount type unknown`);
    }
  }
  for (const [dst, opts] of Object.entries(host.Tmpfs ?? {})) {
    add({ type: 'tmpfs', name: '', source: '', destination: dst, readonly: false, mode: '', propagation: '', options: opts });
  }
  // Config.Volumes (`-v /data`) and the image's VOLUMEs not covered above: anonymous volumes.
  for (const [dst, name] of Object.entries(anonymousAt)) {
    if (seen.has(dst)) continue;
    const mp = volumeMountpoints[name];
    if (!mp) throw invalid(`invalid mount config for type "volume": volume ${name} was not resolved`);
    add({ type: 'volume', name, source: mp, destination: dst, readonly: false, mode: '', propagation: '' });
  }
  return out;
}

const cleanPath = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);

/**
 * Destinations that get an anonymous volume: `--mount type=volume` without a source, and every
 * Config.Volumes / image VOLUME path that no bind, named volume or tmpfs already covers.
 */
export function anonymousVolumeTargets(config: ContainerConfig, host: HostConfig, image: ResolvedImageView): string[] {
  const covered = new Set<string>();
  for (const bind of host.Binds ?? []) {
    const parts = bind.split(':');
    if (parts.length >= 2 && parts[1]) covered.add(cleanPath(parts[1]));
  }
  const out: string[] = [];
  for (const m of host.Mounts ?? []) {
    if (!m.Target) continue;
    if (m.Type === 'volume' && !m.Source) out.push(m.Target);
    else covered.add(cleanPath(m.Target));
  }
  for (const dst of Object.keys(host.Tmpfs ?? {})) covered.add(cleanPath(dst));
  for (const dst of Object.keys({ ...(image.config?.Volumes ?? {}), ...(config.Volumes ?? {}) })) {
    const d = cleanPath(dst);
    if (!d.startsWith('/') || covered.has(d) || out.includes(d)) continue;
    out.push(d);
  }
  return out;
}

/** The named volumes a spec mounts (for the caller to create and resolve first). */
export function namedVolumes(host: HostConfig): string[] {
  const names = new Set<string>();
  for (const bind of host.Binds ?? []) {
    const src = bind.split(':')[0] ?? '';
    if (src && !src.startsWith('/') && bind.includes(':')) names.add(src);
  }
  for (const m of host.Mounts ?? []) if (m.Type === 'volume' && m.Source) names.add(m.Source);
  return [...names];
}

const SIZE = /^(\d+)([kmgKMG]?)$/;
function tmpfsSize(options: string | undefined): { sizeBytes?: number; rest: string[] } {
  const rest: string[] = [];
  let sizeBytes: number | undefined;
  for (const o of (options ?? '').split(',').filter(Boolean)) {
    const m = /^size=(.+)$/.exec(o);
    const s = m ? SIZE.exec(m[1]!) : null;
    if (s) sizeBytes = Number(s[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[s[2]!.toLowerCase()]!;
    else rest.push(o);
  }
  return { sizeBytes, rest };
}

export function resourcesOf(h: HostConfig): ContainerResources {
  const r: ContainerResources = {};
  const set = <K extends keyof ContainerResources>(k: K, v: ContainerResources[K] | null | undefined) => {
    if (v !== undefined && v !== null && v !== 0 && v !== '') r[k] = v;
  };
  set('memory', h.Memory);
  set('memorySwap', h.MemorySwap);
  set('memoryReservation', h.MemoryReservation);
  set('nanoCpus', h.NanoCpus);
  set('cpuShares', h.CpuShares);
  set('cpuQuota', h.CpuQuota);
  set('cpuPeriod', h.CpuPeriod);
  set('cpusetCpus', h.CpusetCpus);
  set('cpusetMems', h.CpusetMems);
  set('pidsLimit', h.PidsLimit ?? undefined);
  set('blkioWeight', h.BlkioWeight);
  if (h.OomKillDisable) r.oomKillDisable = true;
  return r;
}

/** The network a NetworkMode puts the container on (`default` is `bridge`); null for `container:<x>`. */
export function primaryNetworkOf(mode: string | undefined): string | null {
  const m = mode || 'default';
  if (m.startsWith('container:')) return null;
  return m === 'default' ? 'bridge' : m;
}

/** Docker's `NetworkingConfig.EndpointsConfig` entries as create received them: network -> aliases, IPv4. */
export function endpointsConfigOf(networkingConfig: Record<string, unknown> | null | undefined): {
  network: string;
  aliases: string[];
  ipv4?: string;
}[] {
  const raw = (networkingConfig?.EndpointsConfig ?? {}) as Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null>;
  return Object.entries(raw).map(([network, e]) => ({
    network: network === 'default' ? 'bridge' : network,
    aliases: (e?.Aliases ?? []).filter((a) => typeof a === 'string' && a),
    ...(e?.IPAMConfig?.IPv4Address ? { ipv4: e.IPAMConfig.IPv4Address } : {}),
  }));
}

export function networkNamespaceOf(mode: string): ContainerNetworkNamespace {
  if (mode === 'host') return { mode: 'host' };
  if (mode === 'none') return { mode: 'none' };
  // default/bridge/user networks: a private netns; endpoints come from the network service (hook).
  return { mode: 'private' };
}

const SIZE_SUFFIX = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i;
function parseSize(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = SIZE_SUFFIX.exec(v);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!);
}

/** The executor's runtime spec for one run of the container. */
export function runtimeSpecOf(s: ContainerState): ContainerRuntimeSpec {
  const c = s.config;
  const h = s.hostConfig;
  const mounts: ContainerMount[] = s.mounts.map((m): ContainerMount => {
    if (m.type === 'tmpfs') {
      const { sizeBytes, rest } = tmpfsSize(m.options);
      return { type: 'tmpfs', destination: m.destination, ...(sizeBytes ? { sizeBytes } : {}), options: rest };
    }
    if (m.type === 'volume') return { type: 'volume', source: m.source, destination: m.destination, readonly: m.readonly };
    return {
      type: 'bind',
      source: m.source,
      destination: m.destination,
      readonly: m.readonly,
      propagation: (m.propagation || 'rprivate') as 'rprivate',
    };
  });
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${c.Hostname || s.id.slice(0, 12)}`);
  if (c.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const extraHosts = (h.ExtraHosts ?? []).map((e) => {
    const [name, ...addr] = e.split(':');
    return { address: addr.join(':'), hostnames: [name!] };
  });
  const logOpts = h.LogConfig?.Config ?? {};
  return {
    process: {
      args: [s.path, ...s.args],
      env,
      cwd: c.WorkingDir || '/',
      ...(c.User ? { user: c.User } : {}),
      tty: !!c.Tty,
      openStdin: !!c.OpenStdin,
      stdinOnce: !!c.StdinOnce,
    },
    hostname: c.Hostname || s.id.slice(0, 12),
    domainname: c.Domainname || '',
    mounts,
    readonlyRootfs: !!h.ReadonlyRootfs,
    privileged: !!h.Privileged,
    capAdd: h.CapAdd ?? [],
    capDrop: h.CapDrop ?? [],
    securityOpt: h.SecurityOpt ?? [],
    resources: resourcesOf(h),
    ulimits: h.Ulimits ?? [],
    init: !!h.Init,
    shmSize: h.ShmSize || 64 * 1024 * 1024,
    ...(h.OomScoreAdj ? { oomScoreAdj: h.OomScoreAdj } : {}),
    log: { maxSize: parseSize(logOpts['max-size']) ?? 0, maxFile: Number(logOpts['max-file'] ?? 1) || 1 },
    networkNamespace: networkNamespaceOf(h.NetworkMode || 'default'),
    hostsEntries: extraHosts,
    ...(h.Dns?.length || h.DnsSearch?.length || h.DnsOptions?.length
      ? { dns: { nameservers: h.Dns ?? [], search: h.DnsSearch ?? [], options: h.DnsOptions ?? [] } }
      : {}),
  };
}
