import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ZodError } from 'zod';
import { berthConfigSchema, type RawBerthConfig } from './schema';

export const DEFAULT_CONFIG_FILE = '/etc/berth/berth.json';

/** The resolved configuration every process uses. Parsed once at boot (see each service's config.ts). */
export interface BerthConfig extends RawBerthConfig {
  readonly configFile: string | null;
  readonly nodeId: string;
  /** Postgres URL; the one `berth up` provisions when none is configured */
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** Whether postgres/redis were configured explicitly (file or env) */
  readonly postgresConfigured: boolean;
  readonly redisConfigured: boolean;
  readonly runDir: string;
  readonly logDir: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Environment variables that override keys of the file. */
const ENV_KEYS: Record<string, { key: string; kind: 'string' | 'list' | 'bool' | 'int' }> = {
  BERTH_DATA_ROOT: { key: 'data-root', kind: 'string' },
  BERTH_EXEC_ROOT: { key: 'exec-root', kind: 'string' },
  BERTH_HOSTS: { key: 'hosts', kind: 'list' },
  BERTH_LOG_LEVEL: { key: 'log-level', kind: 'string' },
  BERTH_POSTGRES: { key: 'postgres', kind: 'string' },
  BERTH_REDIS: { key: 'redis', kind: 'string' },
  BERTH_NODE_ID: { key: 'node-id', kind: 'string' },
  BERTH_NAMESPACE: { key: 'namespace', kind: 'string' },
  BERTH_ALLOW_INSECURE_TCP: { key: 'allow-insecure-tcp', kind: 'bool' },
  BERTH_RPC_TIMEOUT_MS: { key: 'rpc-timeout-ms', kind: 'int' },
  BERTH_CGROUP_FAVOR_DYNMODS: { key: 'cgroup-favor-dynmods', kind: 'bool' },
  BERTH_INSECURE_REGISTRIES: { key: 'insecure-registries', kind: 'list' },
  BERTH_REGISTRY_MIRRORS: { key: 'registry-mirrors', kind: 'list' },
};

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/berth';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

function formatZodError(error: ZodError, file: string | null): string {
  const where = file ? ` in ${file}` : '';
  return error.issues
    .map((issue) => {
      const key = issue.path.length ? issue.path.join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `invalid configuration${where}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `invalid configuration${where}: "${key}": ${issue.message}`;
    })
    .join('\n');
}

function parseObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`invalid configuration in ${where}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`invalid configuration in ${where}: the top level must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The file named by BERTH_CONFIG, else /etc/berth/berth.json; only the default may be absent. */
function readConfigFile(explicit: string | undefined): { raw: Record<string, unknown>; configFile: string | null } {
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return { raw: {}, configFile: null };
    throw new ConfigError(`cannot read configuration file ${file}: ${(e as Error).message}`);
  }
  return { raw: parseObject(text, file), configFile: file };
}

/**
 * Reads the file (BERTH_CONFIG or /etc/berth/berth.json; a missing default file is fine, a missing
 * explicit one is not), applies environment overrides, validates, and derives the rest.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): BerthConfig {
  let raw: Record<string, unknown>;
  let configFile: string | null;
  if (env.BERTH_CONFIG_JSON) {
    // `berth up` hands the file it read to unprivileged services inline, so they need no access to it.
    configFile = env.BERTH_CONFIG ?? null;
    raw = parseObject(env.BERTH_CONFIG_JSON, 'BERTH_CONFIG_JSON');
  } else {
    ({ raw, configFile } = readConfigFile(env.BERTH_CONFIG));
  }
  for (const [name, { key, kind }] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (kind === 'list') raw[key] = value.split(',').map((s) => s.trim()).filter(Boolean);
    else if (kind === 'bool') raw[key] = /^(1|true|yes)$/i.test(value);
    else if (kind === 'int') raw[key] = Number(value);
    else raw[key] = value;
  }
  const parsed = berthConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatZodError(parsed.error, configFile));
  const c = parsed.data;
  for (const host of c.hosts) {
    if (host.startsWith('tcp://') && !c.tls && !c.tlsverify && !c['allow-insecure-tcp']) {
      throw new ConfigError(
        `invalid configuration: "hosts": ${host} listens on TCP without TLS; set "tlsverify" with certificates, or "allow-insecure-tcp": true to accept an unauthenticated root-equivalent socket`,
      );
    }
    if ((c.tls || c.tlsverify) && host.startsWith('tcp://') && (!c.tlscert || !c.tlskey)) {
      throw new ConfigError('invalid configuration: "tlscert" and "tlskey" are required when TLS is on');
    }
  }
  return {
    ...c,
    configFile,
    nodeId: c['node-id'] ?? hostname().replace(/[^A-Za-z0-9_.-]/g, '-'),
    postgresUrl: c.postgres ?? DEFAULT_POSTGRES_URL,
    redisUrl: c.redis ?? DEFAULT_REDIS_URL,
    postgresConfigured: c.postgres !== undefined,
    redisConfigured: c.redis !== undefined,
    runDir: join(c['data-root'], 'run'),
    logDir: join(c['data-root'], 'logs'),
  };
}

/** The unix socket paths among `hosts`. */
export function unixSockets(config: Pick<RawBerthConfig, 'hosts'>): string[] {
  return config.hosts.filter((h) => h.startsWith('unix://')).map((h) => h.slice('unix://'.length));
}
