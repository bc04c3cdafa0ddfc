import { conflict, invalid, notFound, type VolumeCreated, type VolumeEvent, type VolumeMounted, type VolumeRemoved, type VolumeUnmounted } from '@berth/contracts';

/** One volume's state, folded from its stream `volume:<name>`. */
export type VolumeState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'present';
      readonly name: string;
      readonly driver: string;
      readonly mountpoint: string;
      readonly labels: Record<string, string>;
      readonly options: Record<string, string>;
      readonly anonymous: boolean;
      /** mount references: the containers (created, running or stopped) that use the volume */
      readonly refs: readonly string[];
    };

export const initialVolumeState: VolumeState = { status: 'absent' };

export type VolumeCommand =
  | {
      readonly type: 'CreateVolume';
      readonly name: string;
      readonly driver: string;
      readonly mountpoint: string;
      readonly labels: Record<string, string>;
      readonly options: Record<string, string>;
      readonly anonymous: boolean;
    }
  | { readonly type: 'RemoveVolume'; readonly name: string; readonly inUseBy: readonly string[]; readonly force: boolean }
  | { readonly type: 'MountVolume'; readonly name: string; readonly containerId: string; readonly destination: string; readonly readonly: boolean }
  | { readonly type: 'UnmountVolume'; readonly name: string; readonly containerId: string };

export const volumeStreamId = (name: string) => `volume:${name}`;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's wording for a local volume name it refuses. */
export function validateVolumeName(name: string): void {
  if (name.length < 2 && /^[a-zA-Z0-9]*$/.test(name)) {
    throw invalid(`volume name is too short, names should be at least two alphanumeric characters`);
  }
  if (!NAME.test(name)) {
    throw invalid(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

const LOCAL_OPTS = new Set(['type', 'device', 'o', 'size']);

/** Pure: which events a command produces given the current state. Empty = nothing changes. */
export function decide(command: VolumeCommand, state: VolumeState): VolumeEvent[] {
  switch (command.type) {
    case 'CreateVolume': {
      validateVolumeName(command.name);
      if (command.driver !== 'local') {
        throw notFound(`error looking up volume plugin ${command.driver}: plugin "${command.driver}" not found`);
      }
      for (const key of Object.keys(command.options)) {
        if (!LOCAL_OPTS.has(key)) throw invalid(`invalid option key: "${key}"`);
      }
      // Docker answers an existing name with the existing volume (same driver): creating is idempotent.
      if (state.status === 'present') {
        if (state.driver !== command.driver) {
          throw conflict(`volume name ${command.name} already in use with driver ${state.driver}`);
        }
        return [];
      }
      const created: VolumeCreated = {
        type: 'VolumeCreated',
        schemaVersion: 1,
        data: {
          name: command.name,
          driver: command.driver,
          mountpoint: command.mountpoint,
          labels: command.labels,
          options: command.options,
          anonymous: command.anonymous,
        },
      };
      return [created];
    }
    case 'RemoveVolume': {
      if (state.status === 'absent') {
        if (command.force) return [];
        throw notFound(`get ${command.name}: no such volume`);
      }
      const inUse = [...new Set([...command.inUseBy, ...state.refs])];
      if (inUse.length > 0) {
        throw conflict(`remove ${command.name}: volume is in use - [${inUse.join(', ')}]`);
      }
      const removed: VolumeRemoved = { type: 'VolumeRemoved', schemaVersion: 1, data: { name: command.name } };
      return [removed];
    }
    case 'MountVolume': {
      if (state.status === 'absent') throw notFound(`get ${command.name}: no such volume`);
      if (state.refs.includes(command.containerId)) return [];
      const mounted: VolumeMounted = {
        type: 'VolumeMounted',
        schemaVersion: 1,
        data: { name: command.name, containerId: command.containerId, destination: command.destination, readonly: command.readonly },
      };
      return [mounted];
    }
    case 'UnmountVolume': {
      if (state.status === 'absent' || !state.refs.includes(command.containerId)) return [];
      const unmounted: VolumeUnmounted = { type: 'VolumeUnmounted', schemaVersion: 1, data: { name: command.name, containerId: command.containerId } };
      return [unmounted];
    }
  }
}

/** Pure fold; total over the event union. */
export function evolve(state: VolumeState, event: VolumeEvent): VolumeState {
  switch (event.type) {
    case 'VolumeCreated':
      return { status: 'present', ...event.data, refs: [] };
    case 'VolumeRemoved':
      return initialVolumeState;
    case 'VolumeMounted':
      if (state.status === 'absent' || state.refs.includes(event.data.containerId)) return state;
      return { ...state, refs: [...state.refs, event.data.containerId] };
    case 'VolumeUnmounted':
      if (state.status === 'absent') return state;
      return { ...state, refs: state.refs.filter((r) => r !== event.data.containerId) };
  }
}

export const fold = (events: readonly VolumeEvent[]) => events.reduce(evolve, initialVolumeState);
