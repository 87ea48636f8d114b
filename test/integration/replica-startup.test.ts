/**
 * A node serves before its revocation replica has loaded: createAuth resolves once the store is open
 * and the keys are loaded; until the snapshot is applied, verify asks the store (fail-closed), and a
 * failed snapshot is retried in the background.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SnapshotHead, SnapshotSink } from "../../src/core/model.js";
import { type Auth, createAuth, memoryStore, type Store } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";
import { eventually } from "../helpers/eventually.js";
import { faultyStore } from "../helpers/faulty-store.js";

const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

/** A real memory store whose lean snapshot waits for `release()`, and can be told to fail first. */
function gatedStore(inner: Store) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const state = { failures: 0, calls: 0, checks: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "snapshotInto") {
        return async (now: number, apply: SnapshotSink): Promise<SnapshotHead> => {
          state.calls++;
          await gate;
          if (state.failures > 0) {
            state.failures--;
            throw new Error("snapshot failed (simulated)");
          }
          return (value as NonNullable<Store["snapshotInto"]>).call(target, now, apply);
        };
      }
      if (prop === "check") {
        return (...args: Parameters<Store["check"]>) => {
          state.checks++;
          return target.check(...args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store, state, release: () => open() };
}

describe("serving while the replica loads", () => {
  it("createAuth resolves before the snapshot; verify asks the store until ready(), then reads memory", async () => {
    const clock = testClock();
    const shared = memoryStore();
    const writer = await createAuth({ issuer: "https://i.test", audience: "api", clock, store: shared });
    opened.push(writer);
    const kept = await writer.login("alice");
    const gone = await writer.login("bob");
    await writer.logout(gone.sessionId);

    const { store, state, release } = gatedStore(shared);
    const auth = await createAuth({ issuer: "https://i.test", audience: "api", clock, store });
    opened.push(auth);
    expect(auth.status().replica.loaded).toBe(false);
    expect(auth.isFresh()).toBe(false);
    let ready = false;
    void auth.ready().then(() => {
      ready = true;
    });

    // Not loaded: answered by the store, correctly, both ways.
    const before = state.checks;
    await expect(auth.verify(kept.accessToken)).resolves.toMatchObject({ sub: "alice" });
    await expect(auth.verify(gone.accessToken)).rejects.toMatchObject({ code: "ERR_SESSION_REVOKED" });
    expect(state.checks).toBe(before + 2);
    expect(ready).toBe(false);

    release();
    await auth.ready();
    const status = auth.status().replica;
    expect(status).toMatchObject({ loaded: true, fresh: true, sessions: 1, lastError: null });
    const after = state.checks;
    await expect(auth.verify(gone.accessToken)).rejects.toMatchObject({ code: "ERR_SESSION_REVOKED" });
    await expect(auth.verify(kept.accessToken)).resolves.toMatchObject({ sub: "alice" });
    expect(state.checks).toBe(after);
  });

  it("retries a failed snapshot with backoff and reports the error meanwhile", async () => {
    const { store, state, release } = gatedStore(memoryStore());
    state.failures = 2;
    const auth = await createAuth({ issuer: "https://i.test", audience: "api", store });
    opened.push(auth);
    release();
    await eventually("the replica reports the failure", () => auth.status().replica.lastError !== null, 5000);
    expect(auth.status().replica.lastError).toContain("snapshot failed");
    await auth.ready();
    expect(state.calls).toBe(3);
    expect(auth.status().replica).toMatchObject({ loaded: true, fresh: true, lastError: null });
    expect(auth.metrics.storeErrors).toBeGreaterThanOrEqual(2);
  });

  it("fails closed while loading, even with failMode open, when the store cannot answer", async () => {
    const clock = testClock();
    const store = faultyStore(gatedStore(memoryStore()).store);
    const auth = await createAuth({
      issuer: "https://i.test",
      audience: "api",
      clock,
      store,
      failMode: "open",
    });
    opened.push(auth);
    const t = await auth.login("alice");
    store.down = true;
    await expect(auth.verify(t.accessToken)).rejects.toMatchObject({ code: "ERR_REVOCATION_UNAVAILABLE" });
  });

  it("ready() rejects with a stable code when the Auth closes before the snapshot loads", async () => {
    const { store } = gatedStore(memoryStore());
    const auth = await createAuth({ issuer: "https://i.test", audience: "api", store });
    const ready = auth.ready();
    await auth.close();
    await expect(ready).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
  });
});
