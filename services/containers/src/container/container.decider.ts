import {
  conflict,
  type ContainerCreatedData,
  type ContainerEvent,
  type ContainerStatus,
  DomainError,
  ErrorCode,
  type ExecView,
  type HealthLogEntry,
  type HealthStatus,
  type HostConfig,
  invalid,
  notFound,
  ZERO_TIME,
} from '@berth/contracts';

/**
 * One container's life, folded from `container:<id>`.
 *
 *            create            start                exit (no restart)
 *   absent ─────────▶ created ───────▶ running ─────────────────────▶ exited ──start──▶ running
 *                        │               │  ▲ pause/unpause                │
 *                        │               ▼  │                             │ exit with a restart policy
 *                        │             paused                             ▼
 *                        │                                             restarting ──start──▶ running
 *                        └───── rm ─────▶ removing ──────▶ absent (ContainerRemoved)
 *
 * Runtime facts (started, exited) are recorded after the executor reports them; user intents that
 * need the executor (start, pause) are checked here first, run, then recorded.
 */
export interface ContainerState {
  readonly id: string;
  readonly name: string;
  readonly created: string;
  readonly image: string;
  readonly imageId: string;
  readonly path: string;
  readonly args: string[];
  readonly config: ContainerCreatedData['config'];
  readonly hostConfig: HostConfig;
  readonly mounts: ContainerCreatedData['mounts'];
  readonly logPath: string;
  readonly layerDirs: string[];
  readonly status: ContainerStatus;
  readonly pid: number;
  readonly exitCode: number;
  readonly error: string;
  readonly oomKilled: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly restartCount: number;
  readonly exitCount: number;
  readonly stoppedByUser: boolean;
  readonly health: { status: HealthStatus; failingStreak: number; log: HealthLogEntry[] } | null;
  readonly execs: Record<string, ExecView>;
}

export type MaybeContainer = ContainerState | null;

export type ContainerCommand =
  | { readonly type: 'Create'; readonly data: ContainerCreatedData }
  | { readonly type: 'CheckStart' }
  | { readonly type: 'RecordStarted'; readonly pid: number; readonly startedAt: string; readonly restart: boolean }
  | { readonly type: 'RecordStartFailed'; readonly error: string; readonly exitCode: number; readonly at: string }
  | { readonly type: 'RecordKill'; readonly signal: string; readonly requireRunning: boolean }
  | {
      readonly type: 'RecordExited';
      readonly exitCode: number;
      readonly oomKilled: boolean;
      readonly finishedAt: string;
      readonly startedAt: string;
      readonly error?: string;
      /** the restart policy decided to restart it */
      readonly restarting: boolean;
      readonly byUser: boolean;
    }
  | { readonly type: 'RecordStopped' }
  | { readonly type: 'RecordRestarted' }
  | { readonly type: 'CheckPause' }
  | { readonly type: 'RecordPaused' }
  | { readonly type: 'CheckUnpause' }
  | { readonly type: 'RecordUnpaused' }
  | { readonly type: 'RecordOom' }
  | { readonly type: 'Rename'; readonly name: string }
  | { readonly type: 'Update'; readonly hostConfig: Partial<HostConfig> }
  | { readonly type: 'RecordAttached' }
  | { readonly type: 'BeginRemoval'; readonly force: boolean }
  | { readonly type: 'RecordRemoved' }
  | { readonly type: 'RecordHealth'; readonly status: HealthStatus; readonly failingStreak: number; readonly entry?: HealthLogEntry }
  | { readonly type: 'CreateExec'; readonly exec: ExecView }
  | { readonly type: 'RecordExecStarted'; readonly execId: string; readonly pid: number }
  | { readonly type: 'RecordExecExited'; readonly execId: string; readonly exitCode: number };

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's rule and wording for container names. */
export function validateContainerName(name: string): void {
  if (!NAME.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

const short = (id: string) => id.slice(0, 12);
const isUp = (s: ContainerStatus) => s === 'running' || s === 'paused' || s === 'restarting';

function must(state: MaybeContainer): ContainerState {
  if (!state) throw notFound('No such container');
  return state;
}

/** Pure: which events a command produces given the current state. Empty = nothing changes. */
export function decide(command: ContainerCommand, maybe: MaybeContainer): ContainerEvent[] {
  if (command.type === 'Create') {
    if (maybe) throw conflict(`container ${command.data.id} already exists`);
    validateContainerName(command.data.name);
    return [{ type: 'ContainerCreated', schemaVersion: 1, data: command.data }];
  }
  const s = must(maybe);
  const id = s.id;
  switch (command.type) {
    case 'CheckStart':
      if (s.status === 'running' || s.status === 'restarting') throw new DomainError(ErrorCode.NotModified, 'container already started');
      if (s.status === 'paused') throw conflict('cannot start a paused container, try unpause instead');
      if (s.status === 'removing' || s.status === 'dead') throw conflict(`container ${id} is marked for removal and cannot be started`);
      return [];
    case 'RecordStarted':
      if (s.status === 'running' && s.startedAt === command.startedAt) return [];
      return [{ type: 'ContainerStarted', schemaVersion: 1, data: { id, pid: command.pid, startedAt: command.startedAt, restart: command.restart } }];
    case 'RecordStartFailed':
      return [{ type: 'ContainerStartFailed', schemaVersion: 1, data: { id, error: command.error, exitCode: command.exitCode, at: command.at } }];
    case 'RecordKill':
      if (command.requireRunning && !isUp(s.status)) throw conflict(`cannot kill container: ${id}: container ${id} is not running`);
      return [{ type: 'ContainerKilled', schemaVersion: 1, data: { id, signal: command.signal } }];
    case 'RecordExited': {
      // Only the run we believe is running can exit (observations are redelivered; startedAt names the run).
      // rm -f: the run killed after BeginRemoval still dies (Docker shows kill, die, destroy); pid 0 = already recorded.
      const up = s.status === 'running' || s.status === 'paused' || (s.status === 'removing' && s.pid > 0);
      if (!up || (command.startedAt && s.startedAt !== command.startedAt)) return [];
      const events: ContainerEvent[] = [];
      if (command.oomKilled) events.push({ type: 'ContainerOomKilled', schemaVersion: 1, data: { id } });
      events.push({
        type: 'ContainerExited',
        schemaVersion: 1,
        data: {
          id,
          exitCode: command.exitCode,
          oomKilled: command.oomKilled,
          finishedAt: command.finishedAt,
          startedAt: s.startedAt,
          ...(command.error ? { error: command.error } : {}),
        },
      });
      if (command.restarting) {
        events.push({ type: 'ContainerRestarting', schemaVersion: 1, data: { id, restartCount: s.restartCount + 1 } });
      }
      return events;
    }
    case 'RecordStopped':
      return [{ type: 'ContainerStopped', schemaVersion: 1, data: { id } }];
    case 'RecordRestarted':
      return [{ type: 'ContainerRestarted', schemaVersion: 1, data: { id } }];
    case 'CheckPause':
      if (s.status === 'paused') throw conflict(`container ${id} is already paused`);
      if (s.status !== 'running') throw conflict(`container ${id} is not running`);
      return [];
    case 'RecordPaused':
      return s.status === 'paused' ? [] : [{ type: 'ContainerPaused', schemaVersion: 1, data: { id } }];
    case 'CheckUnpause':
      if (s.status !== 'paused') throw conflict(`container ${id} is not paused`);
      return [];
    case 'RecordUnpaused':
      return s.status !== 'paused' ? [] : [{ type: 'ContainerUnpaused', schemaVersion: 1, data: { id } }];
    case 'RecordOom':
      return [{ type: 'ContainerOomKilled', schemaVersion: 1, data: { id } }];
    case 'Rename': {
      const name = command.name.replace(/^\//, '');
      validateContainerName(name);
      if (name === s.name) throw invalid('Renaming a container with the same name as its current name');
      return [{ type: 'ContainerRenamed', schemaVersion: 1, data: { id, oldName: s.name, name } }];
    }
    case 'Update':
      if (s.status === 'removing' || s.status === 'dead') throw conflict(`Cannot update container ${id}: container is marked for removal`);
      return [{ type: 'ContainerUpdated', schemaVersion: 1, data: { id, hostConfig: command.hostConfig } }];
    case 'RecordAttached':
      return [{ type: 'ContainerAttached', schemaVersion: 1, data: { id } }];
    case 'BeginRemoval':
      if (s.status === 'removing') throw conflict(`removal of container ${short(id)} is already in progress`);
      if (isUp(s.status) && !command.force) {
        const what = s.status === 'paused' ? 'paused' : s.status === 'restarting' ? 'restarting' : 'running';
        throw conflict(
          `cannot remove container "/${s.name}": container is ${what}: stop the container before removing or force remove`,
        );
      }
      return [{ type: 'ContainerRemovalStarted', schemaVersion: 1, data: { id } }];
    case 'RecordRemoved':
      return [{ type: 'ContainerRemoved', schemaVersion: 1, data: { id, name: s.name } }];
    case 'RecordHealth':
      if (s.health && s.health.status === command.status && !command.entry) return [];
      return [
        {
          type: 'ContainerHealthChanged',
          schemaVersion: 1,
          data: {
            id,
            status: command.status,
            failingStreak: command.failingStreak,
            ...(command.entry ? { entry: command.entry } : {}),
            statusChanged: !s.health || s.health.status !== command.status,
          },
        },
      ];
    case 'CreateExec':
      if (s.status === 'paused') throw conflict(`Container ${id} is paused, unpause the container before exec`);
      if (s.status !== 'running') throw conflict(`container ${id} is not running`);
      return [
        {
          type: 'ExecCreated',
          schemaVersion: 1,
          data: { id, execId: command.exec.id, exec: command.exec, ...(command.exec.healthcheck ? { execType: 'healthcheck' as const } : {}) },
        },
      ];
    case 'RecordExecStarted': {
      const exec = s.execs[command.execId];
      if (!exec) throw notFound(`No such exec instance: ${command.execId}`);
      if (exec.running || exec.exitCode !== null) return [];
      return [
        {
          type: 'ExecStarted',
          schemaVersion: 1,
          data: { id, execId: command.execId, pid: command.pid, ...(exec.healthcheck ? { execType: 'healthcheck' as const } : {}) },
        },
      ];
    }
    case 'RecordExecExited': {
      const exec = s.execs[command.execId];
      if (!exec || exec.exitCode !== null) return [];
      return [
        {
          type: 'ExecExited',
          schemaVersion: 1,
          data: { id, execId: command.execId, exitCode: command.exitCode, ...(exec.healthcheck ? { execType: 'healthcheck' as const } : {}) },
        },
      ];
    }
  }
}

/** Pure fold; total over the event union. */
export function evolve(maybe: MaybeContainer, event: ContainerEvent): MaybeContainer {
  if (event.type === 'ContainerCreated') {
    const d = event.data;
    return {
      id: d.id,
      name: d.name,
      created: d.created,
      image: d.image,
      imageId: d.imageId,
      path: d.path,
      args: d.args,
      config: d.config,
      hostConfig: d.hostConfig,
      mounts: d.mounts,
      logPath: d.logPath,
      layerDirs: d.layerDirs,
      status: 'created',
      pid: 0,
      exitCode: 0,
      error: '',
      oomKilled: false,
      startedAt: ZERO_TIME,
      finishedAt: ZERO_TIME,
      restartCount: 0,
      exitCount: 0,
      stoppedByUser: false,
      health: d.config.Healthcheck?.Test?.length && d.config.Healthcheck.Test[0] !== 'NONE' ? { status: 'starting', failingStreak: 0, log: [] } : null,
      execs: {},
    };
  }
  if (!maybe) return maybe;
  const s = maybe;
  switch (event.type) {
    case 'ContainerStarted':
      return {
        ...s,
        status: 'running',
        pid: event.data.pid,
        startedAt: event.data.startedAt,
        exitCode: 0,
        error: '',
        oomKilled: false,
        stoppedByUser: false,
        health: s.health ? { status: 'starting', failingStreak: 0, log: s.health.log } : null,
      };
    case 'ContainerStartFailed':
      return { ...s, status: s.status === 'restarting' ? 'exited' : s.status === 'created' ? 'created' : 'exited', error: event.data.error, exitCode: event.data.exitCode };
    case 'ContainerKilled':
      return s;
    case 'ContainerExited': {
      // As with dockerd, execs created and never started go with the run (a later start or inspect is
      // a 404); the ones that ran stay inspectable, a still running one as killed.
      const execs: Record<string, ExecView> = {};
      for (const [k, e] of Object.entries(s.execs)) {
        if (e.healthcheck || (!e.running && e.exitCode === null)) continue;
        execs[k] = e.running ? { ...e, running: false, exitCode: e.exitCode ?? 137 } : e;
      }
      return {
        ...s,
        status: s.status === 'removing' ? 'removing' : 'exited',
        pid: 0,
        exitCode: event.data.exitCode,
        oomKilled: event.data.oomKilled,
        finishedAt: event.data.finishedAt,
        error: event.data.error ?? '',
        exitCount: s.exitCount + 1,
        health: s.health ? { ...s.health, status: 'unhealthy' === s.health.status ? 'unhealthy' : s.health.status } : null,
        execs,
      };
    }
    case 'ContainerStopped':
      return { ...s, stoppedByUser: true };
    case 'ContainerRestarted':
      return s;
    case 'ContainerRestarting':
      return { ...s, status: 'restarting', restartCount: event.data.restartCount };
    case 'ContainerPaused':
      return { ...s, status: 'paused' };
    case 'ContainerUnpaused':
      return { ...s, status: 'running' };
    case 'ContainerOomKilled':
      return { ...s, oomKilled: true };
    case 'ContainerRenamed':
      return { ...s, name: event.data.name };
    case 'ContainerUpdated':
      return { ...s, hostConfig: { ...s.hostConfig, ...event.data.hostConfig } };
    case 'ContainerAttached':
      return s;
    case 'ContainerRemovalStarted':
      return { ...s, status: 'removing' };
    case 'ContainerRemoved':
      return null;
    case 'ContainerHealthChanged': {
      const log = event.data.entry ? [...(s.health?.log ?? []), event.data.entry].slice(-5) : (s.health?.log ?? []);
      return { ...s, health: { status: event.data.status, failingStreak: event.data.failingStreak, log } };
    }
    case 'ExecCreated':
      return { ...s, execs: { ...s.execs, [event.data.execId]: event.data.exec } };
    case 'ExecStarted': {
      const e = s.execs[event.data.execId];
      return e ? { ...s, execs: { ...s.execs, [e.id]: { ...e, running: true, pid: event.data.pid } } } : s;
    }
    case 'ExecExited': {
      const e = s.execs[event.data.execId];
      if (e?.healthcheck) {
        const { [e.id]: _done, ...rest } = s.execs;
        return { ...s, execs: rest };
      }
      return e ? { ...s, execs: keepRecentExits({ ...s.execs, [e.id]: { ...e, running: false, exitCode: event.data.exitCode } }) } : s;
    }
  }
}

/**
 * How many exited execs a container keeps for `GET /exec/{id}/json`. dockerd keeps them in memory
 * until the container goes; here they are part of the container's state, which every append writes
 * whole, so a container exec'd in a loop would make each append (and inspect) grow without end.
 */
export const EXITED_EXECS_KEPT = 16;

/** Drops the oldest exited execs past EXITED_EXECS_KEPT (keys keep their creation order). */
function keepRecentExits(execs: Record<string, ExecView>): Record<string, ExecView> {
  const exited = Object.values(execs).filter((e) => !e.running && e.exitCode !== null);
  if (exited.length <= EXITED_EXECS_KEPT) return execs;
  const drop = new Set(exited.slice(0, exited.length - EXITED_EXECS_KEPT).map((e) => e.id));
  return Object.fromEntries(Object.entries(execs).filter(([k]) => !drop.has(k)));
}

export const initialContainerState: MaybeContainer = null;
export const fold = (events: readonly ContainerEvent[]) => events.reduce(evolve, initialContainerState);
