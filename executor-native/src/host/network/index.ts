import type { BerthConfig } from '@berth/config';
import { ExecutorJob, type ExecutorJobPayloads as P, type ExecutorJobResults as R } from '@berth/contracts';
import { ensureBridge, hostRoutes, removeBridge } from './bridges';
import { attachNetns, detachNetns } from './netns';
import { publishPorts, unpublishPorts } from './ports';
import { Mutex } from './sys';

export { attachNetns, detachNetns } from './netns';
export { publishPorts, unpublishPorts } from './ports';
export { ensureBridge, removeBridge, hostRoutes } from './bridges';

type Handler<J extends ExecutorJob> = (payload: P[J]) => Promise<R[J]>;

/** The network jobs of the executor host (spread into its handler map). Kernel edits are serialized. */
export function networkJobHandlers(config: Pick<BerthConfig, 'namespace'>): {
  [ExecutorJob.NetworkHostRoutes]: Handler<ExecutorJob.NetworkHostRoutes>;
  [ExecutorJob.NetworkEnsureBridge]: Handler<ExecutorJob.NetworkEnsureBridge>;
  [ExecutorJob.NetworkRemoveBridge]: Handler<ExecutorJob.NetworkRemoveBridge>;
  [ExecutorJob.NetworkAttachNetns]: Handler<ExecutorJob.NetworkAttachNetns>;
  [ExecutorJob.NetworkDetachNetns]: Handler<ExecutorJob.NetworkDetachNetns>;
  [ExecutorJob.NetworkPublishPorts]: Handler<ExecutorJob.NetworkPublishPorts>;
  [ExecutorJob.NetworkUnpublishPorts]: Handler<ExecutorJob.NetworkUnpublishPorts>;
} {
  const mutex = new Mutex();
  // Host-wide knobs (ip_forward) only for the host's own namespace, never for test namespaces.
  const forwarding = config.namespace === 'berth';
  return {
    [ExecutorJob.NetworkHostRoutes]: ({ excludeDevs }) => hostRoutes(excludeDevs ?? []),
    [ExecutorJob.NetworkEnsureBridge]: (spec) => mutex.lock(() => ensureBridge(spec, { forwarding })),
    [ExecutorJob.NetworkRemoveBridge]: (spec) => mutex.lock(() => removeBridge(spec)),
    [ExecutorJob.NetworkAttachNetns]: ({ containerPid, endpoint }) => attachNetns(containerPid, endpoint),
    [ExecutorJob.NetworkDetachNetns]: ({ endpoint }) => detachNetns(endpoint),
    [ExecutorJob.NetworkPublishPorts]: ({ table, endpoint, ports }) => mutex.lock(() => publishPorts(table, endpoint, ports)),
    [ExecutorJob.NetworkUnpublishPorts]: ({ table, endpointId }) => mutex.lock(() => unpublishPorts(table, endpointId)),
  };
}
