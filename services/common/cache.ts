/**
 * A map that holds at most `limit` entries (or, with `weigh`, entries whose weights add
 * up to at most `limit`: bytes): adding more forgets those used least recently. What
 * the servers' caches are made of (the DNS answers, the web server's files, the proxy's
 * lookups), so that none of them can grow without bound, whatever clients ask for.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  private total = 0;

  constructor(
    readonly limit: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // A Map iterates in insertion order: moving the entry to the end keeps the oldest first.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    this.total += this.weigh(value);
    // The oldest go first; an entry heavier than the whole limit does not stay either.
    for (const oldest of this.map.keys()) {
      if (this.total <= this.limit) break;
      this.delete(oldest);
    }
  }

  delete(key: K): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.total -= this.weigh(value);
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  get size(): number {
    return this.map.size;
  }
}
