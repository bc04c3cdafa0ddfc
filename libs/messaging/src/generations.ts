import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type GenerationNotice, generationsChannel } from '@berth/contracts';

/**
 * Generation push (see @berth/contracts generations.ts): the service's GenerationFeed publishes a
 * GenerationNotice on every change and as a heartbeat, the gateway's GenerationWatch follows them, so
 * a cache hit at the gateway needs no request at all.
 *
 * Ordering: the feed publishes through the RPC server's reply connection (publishBeforeReplies), at
 * the moment of the change, so Redis runs that PUBLISH before the PUBLISH of any reply sent after the
 * change. The watch reads the channel on the RPC client's reply connection (subscribeAlongReplies), so
 * it sees the notice before such a reply: once `docker run -d` got its answer, the gateway's
 * generation already moved. It holds across services too (network's notice is run before its reply
 * to the containers service, which is before containers' reply to the gateway).
 *
 * Lost notices: a closed subscriber connection resets the watch (nothing is trusted until a notice
 * arrives again on the resubscribed connection; heartbeats come every `heartbeatMs`), and a service
 * that stops beating (down, restarting) is not trusted after `staleAfterMs`. Untrusted means the
 * caller falls back to asking `<service>.generation` over RPC.
 */

export const GENERATION_HEARTBEAT_MS = 1000;
/** Three heartbeats missed, with slack for a busy event loop. */
export const GENERATION_STALE_AFTER_MS = 3500;

/** What the feed publishes through: RedisRpcServer. */
export interface OrderedPublisher {
  publishBeforeReplies(channel: string, message: string): boolean;
}

/** Service side: one per process and service. The token is `<instance>:<counter>` (GenerationReply). */
export class GenerationFeed {
  readonly instance = randomBytes(6).toString('hex');
  private counter = 0;
  private active = false;
  private timer?: NodeJS.Timeout;
  private readonly channel: string;

  constructor(
    private readonly options: {
      readonly namespace: string;
      readonly service: string;
      /** null: nothing is published (unit tests) */
      readonly publisher: OrderedPublisher | null;
      readonly heartbeatMs?: number;
    },
  ) {
    this.channel = generationsChannel(options.namespace);
  }

  get token(): string {
    return `${this.instance}:${this.counter}`;
  }

  /**
   * The state changed: call it right after the change is in memory and before anything that could reply
   * about it. The first call also makes the feed announce itself (start()).
   */
  bump(): void {
    this.counter++;
    this.active = true;
    this.announce();
  }

  /** Heartbeats from now on (only once bump() was called: a service that never bumps says nothing). */
  start(): void {
    if (this.timer) return;
    this.announce();
    this.timer = setInterval(() => this.announce(), this.options.heartbeatMs ?? GENERATION_HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private announce(): void {
    if (!this.active || !this.options.publisher) return;
    const notice: GenerationNotice = { service: this.options.service, instance: this.instance, counter: this.counter };
    this.options.publisher.publishBeforeReplies(this.channel, JSON.stringify(notice));
  }
}

/** What the watch reads through: RedisRpcClient. */
export interface ReplyChannelSubscriber {
  subscribeAlongReplies(channel: string, onMessage: (raw: string) => void, onReset: () => void): Promise<void>;
}

interface Followed {
  /** moves whenever any instance's counter does, or the picture was reset */
  epoch: number;
  /** instance -> last counter and when it was seen */
  readonly instances: Map<string, { counter: number; seenAt: number }>;
  lastSeen: number;
}

/** Gateway side: the pushed generations of the services it caches reads of. */
export class GenerationWatch {
  private readonly logger = new Logger('GenerationWatch');
  private readonly followed = new Map<string, Followed>();
  private readonly staleAfterMs: number;
  private readonly now: () => number;
  private subscribing?: Promise<void>;
  private subscribed = false;
  private retryAt = 0;

  constructor(
    private readonly options: {
      readonly namespace: string;
      readonly services: readonly string[];
      /** null: never trusted (every caller falls back to RPC) */
      readonly subscriber: ReplyChannelSubscriber | null;
      readonly staleAfterMs?: number;
      readonly now?: () => number;
    },
  ) {
    this.staleAfterMs = options.staleAfterMs ?? GENERATION_STALE_AFTER_MS;
    this.now = options.now ?? Date.now;
    for (const s of options.services) this.followed.set(s, { epoch: 0, instances: new Map(), lastSeen: -Infinity });
  }

  /** Subscribes (again after a failure, at most once a second); current() stays undefined until then. */
  start(): void {
    const subscriber = this.options.subscriber;
    if (!subscriber || this.subscribed || this.subscribing) return;
    this.subscribing = subscriber
      .subscribeAlongReplies(
        generationsChannel(this.options.namespace),
        (raw) => this.onNotice(raw),
        () => this.reset(),
      )
      .then(
        () => {
          this.subscribed = true;
        },
        (err: Error) => {
          this.retryAt = this.now() + 1000;
          this.logger.debug(`cannot follow generations yet: ${err.message}`);
        },
      )
      .finally(() => {
        this.subscribing = undefined;
      });
  }

  /**
   * A token for the service's state as the gateway has seen it pushed (`push:<epoch>`), or undefined
   * when the pushes cannot be trusted right now (not subscribed, reset, silent service): ask by RPC.
   */
  current(service: string): string | undefined {
    if (!this.subscribed) {
      if (!this.subscribing && this.now() >= this.retryAt) this.start();
      return undefined;
    }
    const f = this.followed.get(service);
    if (!f || this.now() - f.lastSeen > this.staleAfterMs) return undefined;
    return `push:${f.epoch}`;
  }

  /** Messages may have been missed: forget everything until notices arrive again. */
  reset(): void {
    for (const f of this.followed.values()) {
      f.epoch++;
      f.instances.clear();
      f.lastSeen = -Infinity;
    }
  }

  /** Applies one notice (public for tests; the subscription calls it). Malformed ones are ignored. */
  onNotice(raw: string): void {
    let notice: Partial<GenerationNotice>;
    try {
      notice = JSON.parse(raw) as Partial<GenerationNotice>;
    } catch {
      return;
    }
    if (!notice || typeof notice.service !== 'string' || typeof notice.instance !== 'string' || typeof notice.counter !== 'number') return;
    const f = this.followed.get(notice.service);
    if (!f) return;
    const now = this.now();
    const known = f.instances.get(notice.instance);
    if (!known || known.counter !== notice.counter) f.epoch++;
    f.instances.set(notice.instance, { counter: notice.counter, seenAt: now });
    f.lastSeen = now;
    // Instances that stopped beating are gone (restarted); one coming back counts as a change.
    if (f.instances.size > 1) {
      for (const [id, i] of f.instances) if (now - i.seenAt > this.staleAfterMs) f.instances.delete(id);
    }
  }
}
