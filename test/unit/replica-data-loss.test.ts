/**
 * A store that comes back without its data is one data loss, however many attempts the replica needs
 * to reload it: one global cutoff (users are logged out once, not at every retry).
 */
import { describe, expect, it } from "vitest";
import type { NewRevocation } from "../../src/core/model.js";
import { memoryStore, type Store } from "../../src/index.js";
import { Replica } from "../../src/replica/replica.js";

describe("replica: one global cutoff per data loss", () => {
  it("records the same cutoff at every failed reload, and reports the loss once", async () => {
    const inner = memoryStore();
    await inner.open();
    let lost = false;
    let failures = 0;
    const recorded: NewRevocation[] = [];
    const store = new Proxy(inner, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === "changes") {
          return async (...args: Parameters<Store["changes"]>) => {
            const batch = await target.changes(...args);
            return lost ? { ...batch, epoch: "after-loss" } : batch;
          };
        }
        if (prop === "snapshotInto") {
          return async (...args: Parameters<NonNullable<Store["snapshotInto"]>>) => {
            if (lost && failures < 4) {
              failures++;
              throw new Error("snapshot failed");
            }
            const head = await target.snapshotInto?.(...args);
            return lost && head ? { ...head, epoch: "after-loss" } : head;
          };
        }
        if (prop === "addRevocation") {
          return async (entry: NewRevocation) => {
            recorded.push(entry);
            return target.addRevocation(entry);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    let now = 1_800_000_000_000;
    const losses: number[] = [];
    const replica = new Replica(store, {
      now: () => now,
      maxStalenessMs: 40,
      onDataLoss: (at) => losses.push(at),
    });
    await replica.start();
    await replica.ready();
    lost = true;
    const lostAt = now;
    for (let i = 0; i < 400 && !(failures >= 4 && replica.status().epoch === "after-loss"); i++) {
      now += 5;
      await new Promise((r) => setTimeout(r, 5));
    }
    await replica.close();
    expect(failures).toBe(4);
    expect(replica.status().epoch).toBe("after-loss");
    const cutoffs = new Set(recorded.filter((e) => e.kind === "global").map((e) => e.cutoff));
    expect(cutoffs.size).toBe(1);
    expect(recorded.filter((e) => e.kind === "global").length).toBeGreaterThanOrEqual(2);
    expect(losses).toHaveLength(1);
    expect(losses[0]).toBeGreaterThanOrEqual(lostAt);
    expect(replica.globalCutoff).toBe(losses[0]);
  });
});

describe("replica: user cutoffs", () => {
  it("keeps a user's cutoff only for the access-token life after it, the later cutoff winning", async () => {
    const store = memoryStore();
    await store.open();
    const now = 1_800_000_000_000;
    const replica = new Replica(store, {
      now: () => now,
      maxStalenessMs: 1000,
      userCutoffTtlMs: () => 60_000,
    });
    const entry = (cutoff: number, except?: string) => ({
      seq: "",
      kind: "user" as const,
      subject: "u1",
      cutoff,
      ...(except ? { exceptSessionId: except } : {}),
      expiresAt: cutoff + 30 * 86_400_000,
      reason: "logout_all",
      actor: "t",
      at: cutoff,
    });
    replica.apply(entry(now, "keep"));
    replica.apply(entry(now - 10));
    expect(replica.userCutoff("u1", now + 59_999)).toEqual({
      cutoff: now,
      exceptSessionId: "keep",
      expiresAt: now + 60_000,
    });
    expect(replica.facts("j", "s", now + 1, "u1").user?.cutoff).toBe(now);
    expect(replica.userCutoff("u1", now + 60_000)).toBeNull();
    expect(replica.userCutoff("u2", now)).toBeNull();
    replica.sweep(now + 60_000);
    expect(replica.status(now).users).toBe(0);
    await replica.close();
  });
});
