/** The domain services. Each owns a Postgres schema of the same name. */
export const DOMAIN_SERVICES = ['images', 'containers', 'network', 'volumes'] as const;
export type DomainService = (typeof DOMAIN_SERVICES)[number];

/** Every Redis key Berth touches starts with `<namespace>:` so test runs never collide. */
export const redisKey = (namespace: string, ...parts: string[]) => [namespace, ...parts].join(':');

/** BullMQ forbids ':' in queue names, so the per-node executor queue is `executor-<nodeId>`. */
export const executorQueueName = (nodeId: string) => `executor-${nodeId}`;
