import { type ContainerConfig, type ContainerView, type HostConfig, invalid, type NetworkEndpoint, ZERO_TIME } from '@berth/contracts';
import { toDockerEndpointSettings, toDockerPortMap } from '../networks/network.mapper';

/** Docker's human `Status` column: `Up 4 seconds`, `Exited (0) 2 minutes ago`, `Created`. */
export function humanStatus(v: ContainerView, now = Date.now()): string {
  const s = v.state;
  switch (s.status) {
    case 'running': {
      const health = s.health && s.health.status !== 'none' ? ` (${s.health.status === 'starting' ? 'health: starting' : s.health.status})` : '';
      return `Up ${humanDuration(now - Date.parse(s.startedAt))}${health}`;
    }
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      if (s.finishedAt === ZERO_TIME) return 'Created';
      return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
    default:
      return 'Created';
  }
}

/**
 * Until when (epoch ms) humanStatus(v, t) stays what it is at `now`: Infinity when it does not depend on
 * the time. Conservative (the next whole-second step of the rounded duration), so a cached summary whose
 * Status is reused before then is byte-identical to a fresh one.
 */
export function statusStableUntil(v: ContainerView, now: number): number {
  const s = v.state;
  let since: string;
  if (s.status === 'running' || s.status === 'paused') since = s.startedAt;
  else if (s.status === 'restarting') since = s.finishedAt;
  else if (s.status === 'exited' && s.finishedAt !== ZERO_TIME) since = s.finishedAt;
  else return Infinity;
  const t0 = Date.parse(since);
  if (Number.isNaN(t0)) return now;
  // humanDuration depends on Math.round(max(0, now - t0) / 1000) only; it next moves at (seconds + 0.5) s.
  const seconds = Math.round(Math.max(0, now - t0) / 1000);
  return t0 + (seconds + 0.5) * 1000;
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Docker shows an all-addresses binding as 0.0.0.0. */
const publishedPorts = (endpoints: readonly NetworkEndpoint[]) =>
  Object.fromEntries(
    Object.entries(toDockerPortMap(endpoints)).map(([k, list]) => [k, list.map((b) => ({ HostIp: b.HostIp || '0.0.0.0', HostPort: b.HostPort }))]),
  );

const isUp = (v: ContainerView) => v.state.status === 'running' || v.state.status === 'paused' || v.state.status === 'restarting';

function ports(v: ContainerView, endpoints?: readonly NetworkEndpoint[]) {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  if (endpoints) {
    // What the network service published for the running process (HostPort 0 resolved), then the rest exposed.
    if (!isUp(v)) return out;
    const published = publishedPorts(endpoints);
    for (const key of Object.keys({ ...(v.config.ExposedPorts ?? {}), ...published })) {
      const [port, type = 'tcp'] = key.split('/');
      const b = published[key];
      if (b?.length) for (const x of b) out.push({ IP: x.HostIp || '0.0.0.0', PrivatePort: Number(port), PublicPort: Number(x.HostPort), Type: type });
      else out.push({ PrivatePort: Number(port), Type: type });
    }
    return out;
  }
  const bindings = v.hostConfig.PortBindings ?? {};
  for (const key of Object.keys({ ...(v.config.ExposedPorts ?? {}), ...bindings })) {
    const [port, type = 'tcp'] = key.split('/');
    const b = bindings[key];
    if (b && b.length && v.state.status === 'running') {
      for (const x of b) {
        out.push({ IP: x.HostIp || '0.0.0.0', PrivatePort: Number(port), ...(x.HostPort ? { PublicPort: Number(x.HostPort) } : {}), Type: type });
      }
    } else out.push({ PrivatePort: Number(port), Type: type });
  }
  return out;
}

const networkName = (mode: string | undefined) => (!mode || mode === 'default' ? 'bridge' : mode);

function mountsOf(v: ContainerView) {
  return v.mounts.map((m) => ({
    Type: m.type,
    ...(m.type === 'volume' ? { Name: m.name } : {}),
    Source: m.source,
    Destination: m.destination,
    ...(m.type === 'volume' ? { Driver: 'local' } : {}),
    Mode: m.mode,
    RW: !m.readonly,
    Propagation: m.propagation,
  }));
}

/** `NetworkSettings.Networks` from the container's endpoints; addresses only while a process runs (as Docker). */
function networksOf(v: ContainerView, endpoints: readonly NetworkEndpoint[]) {
  const out: Record<string, ReturnType<typeof toDockerEndpointSettings>> = {};
  for (const e of endpoints) {
    const full = toDockerEndpointSettings(e, v.name);
    out[e.networkName] = isUp(v)
      ? full
      : { ...full, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '', DNSNames: full.DNSNames };
  }
  return out;
}

function networks(v: ContainerView, endpoints?: readonly NetworkEndpoint[]) {
  const mode = v.hostConfig.NetworkMode ?? 'default';
  if (mode.startsWith('container:')) return {};
  if (endpoints?.length) return networksOf(v, endpoints);
  return {
    [networkName(mode)]: {
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      MacAddress: '',
      DriverOpts: null,
      GwPriority: 0,
      NetworkID: '',
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: null,
    },
  };
}

/** `GET /containers/json` entries. */
export function toContainerSummary(v: ContainerView, now = Date.now(), endpoints?: readonly NetworkEndpoint[]) {
  return {
    Id: v.id,
    Names: [`/${v.name}`],
    Image: v.image,
    ImageID: v.imageId,
    Command: [v.path, ...v.args].map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' '),
    Created: Math.floor(Date.parse(v.created) / 1000),
    Ports: ports(v, endpoints),
    Labels: v.config.Labels ?? {},
    State: v.state.status,
    Status: humanStatus(v, now),
    HostConfig: { NetworkMode: v.hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: networks(v, endpoints) },
    Mounts: mountsOf(v),
  };
}

/** Where the run's /etc files are bound from (containerPaths). */
export interface EtcFilePaths {
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
}

/** `GET /containers/{id}/json`. */
export function toContainerInspect(v: ContainerView, endpoints: readonly NetworkEndpoint[] | undefined, etc: EtcFilePaths) {
  const s = v.state;
  const up = s.status === 'running' || s.status === 'paused' || s.status === 'restarting';
  // Docker fills the top-level address fields from the default bridge's endpoint only.
  const bridge = up ? endpoints?.find((e) => e.networkName === 'bridge') : undefined;
  return {
    Id: v.id,
    Created: v.created,
    Path: v.path,
    Args: v.args,
    State: {
      Status: s.status,
      Running: up,
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health
        ? {
            Health: {
              Status: s.health.status,
              FailingStreak: s.health.failingStreak,
              Log: s.health.log,
            },
          }
        : {}),
    },
    Image: v.imageId,
    ResolvConfPath: etc.resolvConf,
    HostnamePath: etc.hostname,
    HostsPath: etc.hosts,
    LogPath: v.logPath,
    Name: `/${v.name}`,
    RestartCount: v.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: v.execIds.length ? v.execIds : null,
    HostConfig: {
      ...v.hostConfig,
      Binds: v.hostConfig.Binds ?? null,
      PortBindings: v.hostConfig.PortBindings ?? {},
      Memory: v.hostConfig.Memory ?? 0,
      NanoCpus: v.hostConfig.NanoCpus ?? 0,
      CpuShares: v.hostConfig.CpuShares ?? 0,
      CpuQuota: v.hostConfig.CpuQuota ?? 0,
      CpuPeriod: v.hostConfig.CpuPeriod ?? 0,
      MemorySwap: v.hostConfig.MemorySwap ?? 0,
      MemoryReservation: v.hostConfig.MemoryReservation ?? 0,
      PidsLimit: v.hostConfig.PidsLimit ?? null,
      CapAdd: v.hostConfig.CapAdd ?? null,
      CapDrop: v.hostConfig.CapDrop ?? null,
    },
    GraphDriver: { Name: 'overlay2', Data: null },
    Mounts: mountsOf(v),
    Config: { ...v.config, Hostname: v.config.Hostname || v.id.slice(0, 12) },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: endpoints
        ? up
          ? { ...Object.fromEntries(Object.keys(v.config.ExposedPorts ?? {}).map((k) => [k, null])), ...publishedPorts(endpoints) }
          : {}
        : Object.fromEntries(
            Object.keys(v.config.ExposedPorts ?? {}).map((k) => [k, s.status === 'running' ? (v.hostConfig.PortBindings?.[k] ?? null) : null]),
          ),
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: bridge?.endpointId ?? '',
      Gateway: bridge?.gateway ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: bridge?.ip ?? '',
      IPPrefixLen: bridge?.prefixLen ?? 0,
      IPv6Gateway: '',
      MacAddress: bridge?.mac ?? '',
      Networks: networks(v, endpoints),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Request bodies: Go's json.Unmarshal would refuse wrong types with a 400; so do we, with its wording.

type Kind = 'string' | 'number' | 'boolean' | 'string[]' | 'map' | 'object' | 'array';
const CONFIG_FIELDS: Record<string, Kind> = {
  Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'boolean', AttachStdout: 'boolean', AttachStderr: 'boolean',
  ExposedPorts: 'object', Tty: 'boolean', OpenStdin: 'boolean', StdinOnce: 'boolean', Env: 'string[]', Cmd: 'string[]',
  Healthcheck: 'object', Image: 'string', Volumes: 'object', WorkingDir: 'string', Entrypoint: 'string[]', Labels: 'map',
  StopSignal: 'string', StopTimeout: 'number', ArgsEscaped: 'boolean', NetworkDisabled: 'boolean', OnBuild: 'string[]', Shell: 'string[]',
  MacAddress: 'string',
};
const HOST_FIELDS: Record<string, Kind> = {
  Binds: 'string[]', Mounts: 'array', PortBindings: 'object', PublishAllPorts: 'boolean', NetworkMode: 'string', RestartPolicy: 'object',
  AutoRemove: 'boolean', Memory: 'number', MemorySwap: 'number', MemoryReservation: 'number', NanoCpus: 'number', CpuShares: 'number',
  CpuQuota: 'number', CpuPeriod: 'number', CpusetCpus: 'string', CpusetMems: 'string', PidsLimit: 'number', BlkioWeight: 'number',
  OomKillDisable: 'boolean', CapAdd: 'string[]', CapDrop: 'string[]', Privileged: 'boolean', ReadonlyRootfs: 'boolean', Tmpfs: 'map',
  Init: 'boolean', Ulimits: 'array', ExtraHosts: 'string[]', Dns: 'string[]', DnsSearch: 'string[]', DnsOptions: 'string[]',
  SecurityOpt: 'string[]', LogConfig: 'object', ShmSize: 'number', GroupAdd: 'string[]', OomScoreAdj: 'number', VolumesFrom: 'string[]',
  Links: 'string[]', CgroupnsMode: 'string', IpcMode: 'string', PidMode: 'string', UTSMode: 'string', UsernsMode: 'string',
  Runtime: 'string', ConsoleSize: 'array', Isolation: 'string', Cgroup: 'string', ContainerIDFile: 'string', Annotations: 'map',
};
const GO_TYPE: Record<Kind, string> = {
  string: 'string', number: 'int64', boolean: 'bool', 'string[]': '[]string', map: 'map[string]string', object: 'struct', array: 'slice',
};
const jsType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v);

function checkFields(obj: Record<string, unknown>, fields: Record<string, Kind>, struct: string): void {
  for (const [key, kind] of Object.entries(fields)) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    const ok =
      kind === 'string[]'
        ? (Array.isArray(v) && v.every((x) => typeof x === 'string')) || (typeof v === 'string' && (key === 'Cmd' || key === 'Entrypoint'))
        : kind === 'map'
          ? typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string')
          : kind === 'object'
            ? typeof v === 'object' && !Array.isArray(v)
            : kind === 'array'
              ? Array.isArray(v)
              : kind === 'number'
                ? typeof v === 'number' && Number.isFinite(v)
                : typeof v === kind;
    if (!ok) {
      throw invalid(`json: cannot unmarshal ${jsType(v)} into Go struct field ${struct}.${key} of type ${GO_TYPE[kind]}`);
    }
  }
}

export interface CreateBody {
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: Record<string, unknown> | null;
}

/** `POST /containers/create` body -> Config, HostConfig, NetworkingConfig (type-checked). */
export function parseCreateBody(body: unknown): CreateBody {
  if (body === undefined || body === null) throw invalid('config cannot be empty in order to create a container');
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('json: cannot unmarshal array into Go value of type container.CreateRequest');
  const { HostConfig: host, NetworkingConfig: net, ...config } = body as Record<string, unknown>;
  checkFields(config, CONFIG_FIELDS, 'CreateRequest.Config');
  if (host !== undefined && host !== null && (typeof host !== 'object' || Array.isArray(host))) {
    throw invalid(`json: cannot unmarshal ${jsType(host)} into Go struct field CreateRequest.HostConfig of type container.HostConfig`);
  }
  const hostConfig = (host ?? {}) as Record<string, unknown>;
  checkFields(hostConfig, HOST_FIELDS, 'CreateRequest.HostConfig');
  const c = config as ContainerConfig;
  // Go accepts a string for strslice fields (Cmd, Entrypoint).
  if (typeof c.Cmd === 'string') c.Cmd = [c.Cmd];
  if (typeof c.Entrypoint === 'string') c.Entrypoint = [c.Entrypoint];
  return { config: c, hostConfig: hostConfig as HostConfig, networkingConfig: (net as Record<string, unknown>) ?? null };
}
