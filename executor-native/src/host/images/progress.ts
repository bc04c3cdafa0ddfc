import type { LayerProgress } from '@berth/contracts';

interface ProgressSink {
  updateProgress(progress: object): Promise<void>;
}

/**
 * Batches per-blob progress into BullMQ job progress ({updates: LayerProgress[]}): phase changes go
 * out at once, byte counts at most every `intervalMs` per blob. The images service relays them.
 */
export class ProgressBatcher {
  private pending = new Map<string, LayerProgress>();
  private timer: NodeJS.Timeout | undefined;
  private lastBytes = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly job: ProgressSink | undefined,
    private readonly intervalMs = 150,
  ) {}

  report(p: LayerProgress): void {
    if (!this.job) return;
    const key = `${p.digest}|${p.phase}`;
    const bytes = p.phase === 'download' || p.phase === 'upload' || p.phase === 'extract';
    if (bytes) {
      const now = Date.now();
      const last = this.lastBytes.get(key) ?? 0;
      if (now - last < this.intervalMs && p.current !== p.total) {
        this.pending.set(key, p);
        this.schedule();
        return;
      }
      this.lastBytes.set(key, now);
    }
    this.pending.set(key, p);
    this.flushSoon();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushSoon();
    }, this.intervalMs);
  }

  private flushSoon(): void {
    if (!this.pending.size) return;
    const updates = [...this.pending.values()];
    this.pending.clear();
    const job = this.job!;
    this.chain = this.chain.then(() => job.updateProgress({ updates }).catch(() => undefined));
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushSoon();
    await this.chain;
  }
}
