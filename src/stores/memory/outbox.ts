import type { EventOutbox, EventReceiver, OutboxEvent, OutboxState } from "../outbox/types.js";

/** The {@link EventOutbox} of a memory store (this process only, like the store). */
export class MemoryOutbox implements EventOutbox {
  readonly #receivers = new Map<string, EventReceiver>();
  readonly #events = new Map<string, OutboxEvent>();
  #cursor: string | null = null;
  #lease: { owner: string; until: number } | undefined;

  async init(): Promise<void> {}

  async setReceiver(clientId: string, url: string | null, now: number): Promise<void> {
    if (url === null) {
      this.#receivers.delete(clientId);
      return;
    }
    const old = this.#receivers.get(clientId);
    this.#receivers.set(clientId, { clientId, url, since: old?.url === url ? old.since : now });
  }

  async receivers(): Promise<EventReceiver[]> {
    return [...this.#receivers.values()].map((r) => ({ ...r }));
  }

  async getCursor(): Promise<string | null> {
    return this.#cursor;
  }

  async setCursor(value: string): Promise<void> {
    this.#cursor = value;
  }

  async lease(owner: string, now: number, ttlMs: number): Promise<boolean> {
    if (this.#lease && this.#lease.owner !== owner && this.#lease.until > now) return false;
    this.#lease = { owner, until: now + ttlMs };
    return true;
  }

  async add(events: OutboxEvent[]): Promise<void> {
    for (const e of events) if (!this.#events.has(e.id)) this.#events.set(e.id, { ...e });
  }

  async due(now: number, limit: number): Promise<OutboxEvent[]> {
    return [...this.#events.values()]
      .filter((e) => e.state === "pending" && e.nextAt <= now)
      .sort((a, b) => a.createdAt - b.createdAt)
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  async update(
    id: string,
    change: Pick<OutboxEvent, "state" | "nextAt" | "attempts" | "lastError">,
  ): Promise<void> {
    const e = this.#events.get(id);
    if (e) Object.assign(e, change);
  }

  async counts(): Promise<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const e of this.#events.values()) out[e.state]++;
    return out;
  }

  async purge(before: number): Promise<void> {
    for (const [id, e] of this.#events)
      if (e.state !== "pending" && e.createdAt < before) this.#events.delete(id);
  }
}
