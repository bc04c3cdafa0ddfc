import { Injectable } from '@nestjs/common';
import { invalid } from '@berth/contracts';
import type { Filters } from '../http/query-params';
import { admittedTypes, matchesEventFilters } from './event-filter';
import { encodeEventLine } from './event-message.encoder';
import { nowNanos, parseEventTime } from './event-time';
import { DockerEventsRepository, type StoredDockerEvent } from './docker-events.repository';
import { LiveDockerEvents } from './live-docker-events';

export interface EventsQuery {
  readonly since?: string;
  readonly until?: string;
  readonly filters: Filters;
}

export interface EventsPlan {
  readonly sinceNano: bigint | null;
  readonly untilNano: bigint | null;
  readonly filters: Filters;
}

/** Where the lines go: the HTTP response, in production. */
export interface EventSink {
  /** Resolves when the line may be followed by another (back-pressure). */
  write(line: string): Promise<void>;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

const PAGE_SIZE = 500;
/** A live notification can trail the history read that already returned its row by this much at most. */
const DEDUPE_WINDOW_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `GET /events`: the durable history matching since/until/filters, then live events until `until`
 * passes or the client leaves. The live feed is subscribed before history is read, and events seen in
 * both are sent once (dedupe by event id), so nothing falls between the two.
 */
@Injectable()
export class StreamEventsService {
  constructor(
    private readonly repository: DockerEventsRepository,
    private readonly live: LiveDockerEvents,
  ) {}

  /** Validates the request; throws before any byte of the response is sent. */
  plan(query: EventsQuery): EventsPlan {
    const sinceNano = parseEventTime(query.since, 'since');
    const untilNano = parseEventTime(query.until, 'until');
    if (sinceNano !== null && untilNano !== null && untilNano < sinceNano) {
      throw invalid(`\`since\` time (${query.since}) cannot be after \`until\` time (${query.until})`);
    }
    return { sinceNano, untilNano, filters: query.filters };
  }

  async run(plan: EventsPlan, sink: EventSink): Promise<void> {
    const { sinceNano, untilNano, filters } = plan;
    const onlyPast = untilNano !== null && untilNano < nowNanos();
    const inRange = (e: StoredDockerEvent) =>
      (sinceNano === null || e.timeNano >= sinceNano) && (untilNano === null || e.timeNano <= untilNano);

    const queue: StoredDockerEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = onlyPast
      ? () => undefined
      : this.live.subscribe((event) => {
          queue.push(event);
          wake?.();
        });
    const subscribedAt = Date.now();
    let finished = false;
    const finish = () => {
      finished = true;
      wake?.();
    };
    sink.onClose(finish);

    try {
      const seen = new Set<string>();
      // dockerd replays nothing when neither bound is given: such a request is live only.
      if (sinceNano !== null || untilNano !== null) {
        let after: { timeNano: bigint; eventId: string } | null = null;
        for (;;) {
          const page = await this.repository.page({
            sinceNano,
            untilNano,
            types: admittedTypes(filters),
            after,
            limit: PAGE_SIZE,
          });
          for (const event of page) {
            if (sink.closed) return;
            if (event.recordedAt.getTime() >= subscribedAt - DEDUPE_WINDOW_MS) seen.add(event.eventId);
            if (matchesEventFilters(event, filters)) await sink.write(encodeEventLine(event));
          }
          if (page.length < PAGE_SIZE) break;
          const last = page[page.length - 1];
          after = { timeNano: last.timeNano, eventId: last.eventId };
        }
      }
      if (onlyPast || sink.closed) return;

      const timer = untilNano === null ? undefined : this.armUntil(untilNano, finish);
      try {
        while (!finished && !sink.closed) {
          const event = queue.shift();
          if (!event) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          if (seen.has(event.eventId)) continue;
          if (seen.size && Date.now() - subscribedAt > DEDUPE_WINDOW_MS) seen.clear();
          if (inRange(event) && matchesEventFilters(event, filters)) await sink.write(encodeEventLine(event));
        }
      } finally {
        if (timer) clearTimeout(timer.handle);
      }
    } finally {
      unsubscribe();
    }
  }

  /** Calls `done` once `until` has passed (re-arming past setTimeout's 24-day limit). */
  private armUntil(untilNano: bigint, done: () => void): { handle?: NodeJS.Timeout } {
    const timer: { handle?: NodeJS.Timeout } = {};
    const arm = () => {
      const remainingMs = Number((untilNano - nowNanos()) / 1_000_000n);
      if (remainingMs <= 0) {
        done();
        return;
      }
      timer.handle = setTimeout(arm, Math.min(remainingMs + 1, MAX_TIMER_MS));
    };
    arm();
    return timer;
  }
}
