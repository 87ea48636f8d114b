import type { StatusEntry, StatusRegistry } from "../status/types.js";

/** The {@link StatusRegistry} of a memory store (this process only, like the store). */
export class MemoryStatusRegistry implements StatusRegistry {
  readonly #lists = new Map<number, { entries: StatusEntry[]; keepUntil: number }>();

  async init(): Promise<void> {}

  async allocate(list: number, token: Omit<StatusEntry, "idx">, keepUntil: number): Promise<number> {
    let l = this.#lists.get(list);
    if (!l) this.#lists.set(list, (l = { entries: [], keepUntil }));
    l.keepUntil = Math.max(l.keepUntil, keepUntil);
    const idx = l.entries.length;
    l.entries.push({ idx, ...token });
    return idx;
  }

  async entries(list: number, afterIdx: number, limit: number): Promise<StatusEntry[]> {
    return (this.#lists.get(list)?.entries ?? []).slice(afterIdx + 1, afterIdx + 1 + limit);
  }

  async purge(now: number): Promise<void> {
    for (const [id, l] of this.#lists) if (l.keepUntil <= now) this.#lists.delete(id);
  }
}
