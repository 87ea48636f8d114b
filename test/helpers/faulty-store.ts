import type { Store } from "../../src/stores/contract.js";

/** A store wrapper whose calls can be made to fail (an outage) and whose change feed can be paused. */
export interface FaultyStore extends Store {
  /** While true, every call rejects as if the store were unreachable. */
  down: boolean;
  /** While true, `changes` delivers nothing and confirms nothing (a stuck feed); other calls work. */
  feedPaused: boolean;
}

/** Wraps `inner` so a test can simulate an outage of our own store, without mocking a driver. */
export function faultyStore(inner: Store): FaultyStore {
  const state = { down: false, feedPaused: false };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "down" || prop === "feedPaused") return state[prop];
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "close")
        return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        if (state.down) throw new Error("connect ECONNREFUSED (simulated outage)");
        if (prop === "changes" && state.feedPaused) {
          // A stuck feed: no entries and no confirmation of freshness.
          const opts = args[1] as { waitMs: number };
          await new Promise((r) => setTimeout(r, Math.max(opts.waitMs, 5)));
          throw new Error("change feed paused (simulated)");
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
    set(_target, prop, value) {
      if (prop === "down" || prop === "feedPaused") {
        state[prop] = Boolean(value);
        return true;
      }
      return false;
    },
  }) as FaultyStore;
}
