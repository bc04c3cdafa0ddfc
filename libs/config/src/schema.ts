import { z } from 'zod';

/**
 * `/etc/berth/berth.json`: daemon.json keys where they make sense, plus Berth's own
 * (`postgres`, `redis`, `node-id`, `namespace`, `allow-insecure-tcp`). Unknown keys are refused so a
 * typo never silently does nothing.
 */
export const berthConfigSchema = z
  .object({
    'data-root': z.string().startsWith('/', 'must be an absolute path').default('/var/lib/berth'),
    'exec-root': z.string().startsWith('/', 'must be an absolute path').default('/run/berth'),
    hosts: z
      .array(z.string().regex(/^(unix:\/\/\/|tcp:\/\/|fd:\/\/)/, 'must start with unix:///, tcp:// or fd://'))
      .min(1)
      .default(['unix:///run/berth/docker.sock']),
    'log-level': z.enum(['debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    'log-driver': z.enum(['json-file', 'local', 'none']).default('json-file'),
    'log-opts': z.record(z.string(), z.string()).default({ 'max-size': '10m', 'max-file': '3' }),
    'registry-mirrors': z.array(z.string().url()).default([]),
    'insecure-registries': z.array(z.string()).default([]),
    'default-address-pools': z
      .array(z.object({ base: z.string(), size: z.number().int().min(8).max(30) }).strict())
      .default([{ base: '172.17.0.0/16', size: 16 }, { base: '172.18.0.0/16', size: 24 }]),
    'userns-remap': z.string().default(''),
    tls: z.boolean().default(false),
    tlsverify: z.boolean().default(false),
    tlscacert: z.string().optional(),
    tlscert: z.string().optional(),
    tlskey: z.string().optional(),
    'allow-insecure-tcp': z.boolean().default(false),
    group: z.string().default('root'),
    postgres: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    redis: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
    'node-id': z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only').optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, _ and - only')
      .default('berth'),
    'rpc-timeout-ms': z.number().int().positive().default(30_000),
    /**
     * Mount an empty named cgroup v1 hierarchy with `favordynmods` (Linux >= 6.0) so moving a process
     * into a cgroup stops waiting for an RCU grace period (7-10 ms per container start and exec here);
     * host-wide until reboot, forks and exits get slightly dearer (see docs/architecture.md).
     */
    'cgroup-favor-dynmods': z.boolean().default(true),
    name: z.string().optional(),
  })
  .strict();

export type BerthConfigInput = z.input<typeof berthConfigSchema>;
export type RawBerthConfig = z.output<typeof berthConfigSchema>;
