/**
 * What a process saw lately, by key: each entry good for `ttlMs` after it was (last) put, at most `max`
 * of them (the oldest goes first). For the races of request and reply: the gateway's memory of fresh
 * containers and execs, the containers service's of waits cancelled before they arrived and of
 * containers removed before a wait for them arrived.
 */
export class RecentMap<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 1000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  put(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, at: Date.now() });
  }

  /** The value while it is recent; an expired one is dropped. */
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (Date.now() - e.at <= this.ttlMs) return e.value;
    this.entries.delete(key);
    return undefined;
  }

  /** get, and forget it. */
  take(key: string): V | undefined {
    const v = this.get(key);
    this.entries.delete(key);
    return v;
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
