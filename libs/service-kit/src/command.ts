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
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<C, S, E>,
  ) {}

  handle(streamId: string, command: C, actor: Actor | null = null): Promise<{ state: S; events: E[] }> {
    const previous = this.locks.get(streamId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.handleNow(streamId, command, actor));
    const tail = run.catch(() => undefined);
    this.locks.set(streamId, tail);
    void tail.then(() => {
      if (this.locks.get(streamId) === tail) this.locks.delete(streamId);
    });
    return run;
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

  private async handleNow(streamId: string, command: C, actor: Actor | null): Promise<{ state: S; events: E[] }> {
    for (let attempt = 1; ; attempt++) {
      const current = this.cache.get(streamId) ?? (await this.load(streamId));
      const events = this.decider.decide(command, current.state);
      if (events.length === 0) return { state: current.state, events };
      try {
        await this.store.append(streamId, current.version, events, { actor });
      } catch (e) {
        if (e instanceof ConcurrencyError && attempt < ATTEMPTS) {
          await this.load(streamId);
          continue;
        }
        // Whatever happened, the next command starts from the store.
        this.cache.delete(streamId);
        throw e;
      }
      const next = { state: events.reduce(this.decider.evolve, current.state), version: current.version + events.length };
      this.cache.set(streamId, next);
      return { state: next.state, events };
    }
  }
}
