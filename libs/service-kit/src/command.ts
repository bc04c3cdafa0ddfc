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
