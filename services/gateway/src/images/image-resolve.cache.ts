import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ImagePatterns, type ResolvedImageView } from '@berth/contracts';
import { RpcClient } from '@berth/messaging';
import { LiveDockerEvents } from '../events/live-docker-events';

/** A resolved reference is reused this long at most (a safety net: changes made elsewhere arrive as events). */
const TTL_MS = 10_000;
const MAX_ENTRIES = 1000;

/**
 * `images.resolve` answers for `docker create`/`run`, kept per reference so a run does not ask the
 * images service every time. Dropped whole whenever images may have changed: around every
 * image-mutating request this gateway forwards (before and after: see `mutating`), on every image
 * event (changes made through another gateway), and after TTL_MS. A resolve that overlapped an
 * invalidation is answered but not kept. Misses (404) are never kept.
 */
@Injectable()
export class ImageResolveCache implements OnModuleInit {
  private readonly entries = new Map<string, { view: ResolvedImageView; at: number }>();
  private epoch = 0;

  constructor(
    private readonly rpc: RpcClient,
    private readonly live: LiveDockerEvents,
  ) {}

  onModuleInit(): void {
    this.live.subscribeTypes((type) => {
      if (type === 'image') this.invalidate();
    });
  }

  invalidate(): void {
    this.epoch++;
    this.entries.clear();
  }

  /** Runs an image-mutating request with the cache dropped before it and after it settles. */
  async mutating<T>(run: () => Promise<T>): Promise<T> {
    this.invalidate();
    try {
      return await run();
    } finally {
      this.invalidate();
    }
  }

  async resolve(reference: string): Promise<ResolvedImageView> {
    const hit = this.entries.get(reference);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.view;
    const epoch = this.epoch;
    const view = await this.rpc.request<ResolvedImageView>(ImagePatterns.resolve, { reference });
    if (epoch === this.epoch) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(reference, { view, at: Date.now() });
    }
    return view;
  }
}
