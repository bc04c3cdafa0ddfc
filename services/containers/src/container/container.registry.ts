import { type Actor, conflict, type ContainerEvent, containerStreamId, notFound } from '@berth/contracts';
import { ConcurrencyError, EventStore } from '@berth/event-store';
import { GenerationFeed } from '@berth/messaging';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type ContainerCommand, type ContainerState, decide, evolve } from './container.decider';
import { CONTAINER_VIEW_TABLE, containerViewProjection } from './projections/container-view.projection';

interface Entry {
  state: ContainerState;
  version: number;
}

/**
 * Facts whose commit need not wait for the WAL flush (AppendOptions.durable): attach notices, exec
 * sessions (ephemeral: dockerd keeps them in memory only) and health results (re-measured every
 * interval). Only a crash of Postgres itself could lose the last few hundred ms of them.
 */
const TRANSIENT = new Set<ContainerCommand['type']>(['RecordAttached', 'CreateExec', 'RecordExecStarted', 'RecordExecExited', 'RecordHealth']);

type Listener = (state: ContainerState | null, events: readonly ContainerEvent[], before: ContainerState | null) => void;

/**
 * Every container's folded state in memory, loaded once from the projection at boot and moved forward
 * by this process's own appends: reads (list, inspect, wait) never query Postgres.
 *
 * Appends per container are serialized by a promise chain, so the memory follows the stream's order and
 * decide() runs on the current state without re-reading the stream. A lost race against another
 * instance (ConcurrencyError) reloads that one stream and decides again.
 */
@Injectable()
export class ContainerRegistry implements OnModuleInit {
  private readonly logger = new Logger('containers');
  private readonly byId = new Map<string, Entry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly listeners = new Set<Listener>();
  /** names being created right now (before their row exists) */
  private readonly reserved = new Map<string, string>();

  constructor(
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    /** bumped on every change of any container (the gateway's list cache follows it) */
    private readonly generations: GenerationFeed,
  ) {}

  async onModuleInit(): Promise<void> {
    const rows: { id: string; state: ContainerState; version: number }[] = await this.dataSource.query(
      `SELECT id, state, version FROM ${CONTAINER_VIEW_TABLE}`,
    );
    for (const r of rows) if (r.state && r.state.id) this.byId.set(r.id, { state: r.state, version: r.version });
    this.generations.bump();
    this.logger.log(`${rows.length} containers loaded`);
  }

  /** A token that changes whenever any container's state does. */
  get generation(): string {
    return this.generations.token;
  }

  all(): ContainerState[] {
    return [...this.byId.values()].map((e) => e.state);
  }

  get(id: string): ContainerState | undefined {
    return this.byId.get(id)?.state;
  }

  /** Docker's lookup order: full id, exact name (with or without `/`), unique id prefix. */
  resolve(ref: string): ContainerState {
    const found = this.find(ref);
    if (!found) throw notFound(`No such container: ${ref}`);
    return found;
  }

  find(ref: string): ContainerState | undefined {
    if (!ref) return undefined;
    const direct = this.byId.get(ref);
    if (direct) return direct.state;
    const name = ref.replace(/^\//, '');
    for (const e of this.byId.values()) if (e.state.name === name) return e.state;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const matches = [...this.byId.values()].filter((e) => e.state.id.startsWith(ref));
    if (matches.length > 1) throw conflict(`multiple IDs found with provided prefix: ${ref}`);
    return matches[0]?.state;
  }

  findExec(execId: string): { container: ContainerState; execId: string } {
    for (const e of this.byId.values()) {
      if (e.state.execs[execId]) return { container: e.state, execId };
    }
    if (/^[0-9a-f]{1,64}$/.test(execId)) {
      for (const e of this.byId.values()) {
        const hit = Object.keys(e.state.execs).find((x) => x.startsWith(execId));
        if (hit) return { container: e.state, execId: hit };
      }
    }
    throw notFound(`No such exec instance: ${execId}`);
  }

  nameTaken(name: string): string | undefined {
    for (const e of this.byId.values()) if (e.state.name === name) return e.state.id;
    return this.reserved.get(name);
  }

  /** Holds a name for a create in flight (the projection's unique index is the final arbiter). */
  reserve(name: string, id: string): () => void {
    const owner = this.nameTaken(name);
    if (owner) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.reserved.set(name, id);
    return () => {
      if (this.reserved.get(name) === id) this.reserved.delete(name);
    };
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** decide on the current state; throws its errors. Does not append. */
  check(id: string, command: ContainerCommand): ContainerState {
    const entry = this.byId.get(id);
    decide(command, entry?.state ?? null);
    if (!entry) throw notFound(`No such container: ${id}`);
    return entry.state;
  }

  /** The state `command` would leave on the current one (decide + evolve); throws decide's errors. Does not append. */
  preview(id: string, command: ContainerCommand): ContainerState | null {
    const before = this.byId.get(id)?.state ?? null;
    return decide(command, before).reduce(evolve, before);
  }

  /** decide -> append (expected version) -> move memory forward -> tell listeners. */
  record(id: string, command: ContainerCommand, actor: Actor | null = null): Promise<{ state: ContainerState | null; events: ContainerEvent[] }> {
    return this.recordAll(id, [command], actor);
  }

  /**
   * Several commands of one use case as one append (one durable commit): each is decided on the state the
   * ones before it left. A command that decides nothing ends the run there (the later ones are not
   * decided, `decided` tells how many were); an error of any of them appends nothing.
   */
  recordAll(
    id: string,
    commands: readonly ContainerCommand[],
    actor: Actor | null = null,
  ): Promise<{ state: ContainerState | null; events: ContainerEvent[]; decided: number }> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.recordNow(id, commands, actor));
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }

  private async recordNow(id: string, commands: readonly ContainerCommand[], actor: Actor | null) {
    for (let attempt = 1; ; attempt++) {
      const entry = this.byId.get(id);
      const before = entry?.state ?? null;
      const events: ContainerEvent[] = [];
      let decided = 0;
      let durable = false;
      for (let s = before; decided < commands.length; ) {
        const command = commands[decided]!;
        const more = decide(command, s);
        if (more.length === 0) break;
        decided++;
        events.push(...more);
        durable ||= !TRANSIENT.has(command.type);
        if (decided < commands.length) s = more.reduce(evolve, s);
      }
      if (events.length === 0) return { state: before, events, decided };
      try {
        await this.store.append(containerStreamId(id), entry?.version ?? 0, events, { actor, durable, projectionHints: { [containerViewProjection.name]: before } });
      } catch (e) {
        if (e instanceof ConcurrencyError && attempt < 5) {
          await this.reload(id);
          continue;
        }
        if (isUniqueViolation(e)) {
          throw conflict(`Conflict. The container name is already in use. You have to remove (or rename) that container to be able to reuse that name.`);
        }
        throw e;
      }
      const state = events.reduce(evolve, before);
      if (state) this.byId.set(id, { state, version: (entry?.version ?? 0) + events.length });
      else this.byId.delete(id);
      this.generations.bump();
      for (const l of [...this.listeners]) {
        try {
          l(state, events, before);
        } catch (err) {
          this.logger.warn(`listener failed: ${(err as Error).message}`);
        }
      }
      return { state, events, decided };
    }
  }

  private async reload(id: string): Promise<void> {
    const history = await this.store.readStream(containerStreamId(id));
    const state = history.reduce(
      (s, e) => evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as ContainerEvent),
      null as ContainerState | null,
    );
    if (state) this.byId.set(id, { state, version: history.length });
    else this.byId.delete(id);
    this.generations.bump();
  }
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === '23505' || err?.driverError?.code === '23505';
}
