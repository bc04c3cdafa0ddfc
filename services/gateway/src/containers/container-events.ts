import type { ContainerEvent, EventEnvelope } from '@berth/contracts';
import type { EventType } from '@berth/docker-api';

type Translation = { readonly type: EventType; readonly action: string; readonly actorId: string; readonly attributes: Record<string, string> };
type EnvelopeOf<E> = E extends { type: infer T; data: infer D } ? EventEnvelope & { type: T; data: D } : never;
type Translator<E> = (envelope: EnvelopeOf<E>) => Translation | null;

export interface ContainerAttributes {
  name: string;
  image: string;
  labels: Record<string, string>;
}

/**
 * Docker's container event attributes carry the image and name; later Berth events carry only the id,
 * so the names seen (in stream order) are remembered here. This is a cache: the docker_events projection
 * keeps them durably (gateway.container_attributes) and loads a container's before translating its
 * events, so they survive a gateway restart.
 */
const known = new Map<string, ContainerAttributes>();

export const knownContainer = (id: string): ContainerAttributes | undefined => known.get(id);
export const rememberContainer = (id: string, attributes: ContainerAttributes): void => {
  known.set(id, { ...attributes, labels: { ...attributes.labels } });
};

function c(_e: EventEnvelope, id: string, action: string, extra: Record<string, string> = {}): Translation {
  const k = known.get(id);
  return {
    type: 'container',
    action,
    actorId: id,
    attributes: { ...(k?.labels ?? {}), ...(k ? { image: k.image, name: k.name } : {}), ...extra },
  };
}

const execCmd = new Map<string, string>();
const cmd = (e: { id: string; entrypoint: string; arguments: string[] }) => {
  const text = [e.entrypoint, ...e.arguments].join(' ');
  execCmd.set(e.id, text);
  return text;
};
/** Health-check execs are marked so `docker events --filter` consumers can drop them (moby#49725). */
const execType = (d: { execType?: string }): Record<string, string> => (d.execType ? { execType: d.execType } : {});

export const containerTranslations: { [K in ContainerEvent['type']]: Translator<Extract<ContainerEvent, { type: K }>> } = {
  ContainerCreated: (e) => {
    known.set(e.data.id, { name: e.data.name, image: e.data.image, labels: e.data.config.Labels ?? {} });
    return c(e, e.data.id, 'create');
  },
  ContainerStarted: (e) => c(e, e.data.id, 'start'),
  ContainerStartFailed: () => null,
  ContainerKilled: (e) => c(e, e.data.id, 'kill', { signal: signalNumber(e.data.signal) }),
  ContainerExited: (e) => c(e, e.data.id, 'die', { exitCode: String(e.data.exitCode) }),
  ContainerStopped: (e) => c(e, e.data.id, 'stop'),
  ContainerRestarted: (e) => c(e, e.data.id, 'restart'),
  ContainerRestarting: () => null,
  ContainerPaused: (e) => c(e, e.data.id, 'pause'),
  ContainerUnpaused: (e) => c(e, e.data.id, 'unpause'),
  ContainerOomKilled: (e) => c(e, e.data.id, 'oom'),
  ContainerRenamed: (e) => {
    const k = known.get(e.data.id);
    if (k) k.name = e.data.name;
    return c(e, e.data.id, 'rename', { oldName: `/${e.data.oldName}` });
  },
  ContainerUpdated: (e) => c(e, e.data.id, 'update'),
  ContainerAttached: (e) => c(e, e.data.id, 'attach'),
  ContainerRemovalStarted: () => null,
  ContainerRemoved: (e) => {
    const t = c(e, e.data.id, 'destroy');
    known.delete(e.data.id);
    return t;
  },
  // Docker's health_status event marks a change; a probe result alone is not one.
  ContainerHealthChanged: (e) => (e.data.statusChanged === false ? null : c(e, e.data.id, `health_status: ${e.data.status}`)),
  ExecCreated: (e) => c(e, e.data.id, `exec_create: ${cmd(e.data.exec)}`, { execID: e.data.execId, ...execType(e.data) }),
  ExecStarted: (e) => c(e, e.data.id, `exec_start: ${execCmd.get(e.data.execId) ?? ''}`.replace(/: $/, ''), { execID: e.data.execId, ...execType(e.data) }),
  ExecExited: (e) => {
    execCmd.delete(e.data.execId);
    return c(e, e.data.id, 'exec_die', { execID: e.data.execId, exitCode: String(e.data.exitCode), ...execType(e.data) });
  },
};

const NUM: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15, SIGSTOP: 19, SIGCONT: 18 };
function signalNumber(sig: string): string {
  return NUM[sig] !== undefined ? String(NUM[sig]) : sig.replace(/^SIG/, '');
}
