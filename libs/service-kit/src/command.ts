import { type DomainEvent, type Actor } from '@berth/contracts';
import { ConcurrencyError, type EventStore } from '@berth/event-store';

/** An aggregate's pure rules, emmett style. */
export interface Decider<C, S, E extends DomainEvent> {
  readonly initialState: S;
  decide(command: C, state: S): E[];
  evolve(state: S, event: E): S;
}

const ATTEMPTS = 5;

/**
 * Load stream -> fold -> decide -> append with the expected version. A lost race (another instance
 * appended first) re-reads and decides again, so the rules always see the latest state.
 */
export async function handleCommand<C, S, E extends DomainEvent>(
  store: EventStore,
  streamId: string,
  decider: Decider<C, S, E>,
  command: C,
  actor: Actor | null = null,
): Promise<{ state: S; events: E[] }> {
  for (let attempt = 1; ; attempt++) {
    const history = await store.readStream(streamId);
    const state = history.reduce(
      (s, e) => decider.evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as E),
      decider.initialState,
    );
    const events = decider.decide(command, state);
    if (events.length === 0) return { state, events };
    try {
      await store.append(streamId, history.length, events, { actor });
      return { state: events.reduce(decider.evolve, state), events };
    } catch (e) {
      if (e instanceof ConcurrencyError && attempt < ATTEMPTS) continue;
      throw e;
    }
  }
}

/**
 * handleCommand for a service that owns its streams: appends per stream are serialized in this
 * process (a promise chain), and each stream's folded state stays in memory, so a command costs one
 * append instead of reading the whole stream again (a network's stream grows with every container
 * ever connected to it). Another writer (a second instance) is caught by the expected version: the
 * ConcurrencyError re-reads only the events after the cached version and decides again.
 */
export class CachedCommandHandler<C, S, E extends DomainEvent> {
  private readonly cache = new Map<string, { state: S; version: number }>();
  /** commands waiting for their stream, in arrival order */
  private readonly queues = new Map<string, Pending<C, S, E>[]>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<C, S, E>,
    /** passed with every append (AppendOptions.projectionHints): lets projections write inside the append's statement */
    private readonly projectionHints?: Readonly<Record<string, unknown>>,
  ) {}

  /**
   * Commands on one stream run in arrival order. The ones that queued up while an append was in flight
   * are decided one after the other on the evolving state and appended together, as one transaction
   * (group commit: each caller still answers only once its events are committed), so concurrent
   * leases on one network cost one durable commit per batch instead of one each.
   */
  handle(streamId: string, command: C, actor: Actor | null = null): Promise<{ state: S; events: E[] }> {
    return this.handleAll(streamId, [command], actor).then((r) => r[0]!);
  }

  /** Several commands queued at once, in order: on an idle stream they share one append. */
  handleAll(streamId: string, commands: readonly C[], actor: Actor | null = null): Promise<{ state: S; events: E[] }[]> {
    const idle = !this.queues.has(streamId);
    const queue = this.queues.get(streamId) ?? [];
    this.queues.set(streamId, queue);
    const results = commands.map((command) => new Promise<{ state: S; events: E[] }>((resolve, reject) => queue.push({ command, actor, resolve, reject })));
    if (idle) void this.drain(streamId);
    return Promise.all(results);
  }

  /** Forgets a stream (e.g. after it was changed outside this handler). */
  forget(streamId: string): void {
    this.cache.delete(streamId);
  }

  private async load(streamId: string): Promise<{ state: S; version: number }> {
    const known = this.cache.get(streamId) ?? { state: this.decider.initialState, version: 0 };
    const newer = await this.store.readStream(streamId, { fromVersion: known.version + 1 });
    const state = newer.reduce(
      (s, e) => this.decider.evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as E),
      known.state,
    );
    const loaded = { state, version: known.version + newer.length };
    this.cache.set(streamId, loaded);
    return loaded;
  }

  private async drain(streamId: string): Promise<void> {
    const queue = this.queues.get(streamId)!;
    while (queue.length > 0) {
      // One transaction has one actor: a batch is the run of queued commands by the same actor.
      const actor = JSON.stringify(queue[0]!.actor);
      let n = 1;
      while (n < queue.length && n < MAX_BATCH && JSON.stringify(queue[n]!.actor) === actor) n++;
      const batch = queue.splice(0, n);
      try {
        await this.handleBatch(streamId, batch);
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
        // A batch that failed as a whole (not a lost race): each command alone, so one bad command fails only itself.
        else for (const p of batch) await this.handleBatch(streamId, [p]).catch((err: unknown) => p.reject(err));
      }
    }
    this.queues.delete(streamId);
  }

  /** Settles every command of the batch, or throws (none settled) when the append failed. */
  private async handleBatch(streamId: string, batch: Pending<C, S, E>[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = this.cache.get(streamId) ?? (await this.load(streamId));
      let state = current.state;
      const all: E[] = [];
      const outcomes: ({ state: S; events: E[] } | { error: unknown })[] = [];
      for (const p of batch) {
        try {
          const events = this.decider.decide(p.command, state);
          state = events.reduce(this.decider.evolve, state);
          all.push(...events);
          outcomes.push({ state, events });
        } catch (error) {
          outcomes.push({ error });
        }
      }
      if (all.length > 0) {
        try {
          await this.store.append(streamId, current.version, all, {
            actor: batch[0]!.actor,
            ...(this.projectionHints ? { projectionHints: this.projectionHints } : {}),
          });
        } catch (e) {
          if (e instanceof ConcurrencyError && attempt < ATTEMPTS) {
            await this.load(streamId);
            continue;
          }
          // Whatever happened, the next command starts from the store.
          this.cache.delete(streamId);
          throw e;
        }
        this.cache.set(streamId, { state, version: current.version + all.length });
      }
      outcomes.forEach((o, i) => ('error' in o ? batch[i]!.reject(o.error) : batch[i]!.resolve(o)));
      return;
    }
  }
}

/** At most this many commands in one append. */
const MAX_BATCH = 64;

interface Pending<C, S, E> {
  readonly command: C;
  readonly actor: Actor | null;
  resolve(result: { state: S; events: E[] }): void;
  reject(error: unknown): void;
}
