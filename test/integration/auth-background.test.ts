/**
 * Background failures of an Auth (the key reload, lifetimes read and purge timers; the revocation
 * feed) are never swallowed: each is logged with what failed, without the driver's message, and
 * counted in `backgroundErrors`; the feed, which retries within a second, is logged once per minute.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Auth, createAuth, memoryStore } from "../../src/index.js";
import { faultyStore } from "../helpers/faulty-store.js";

const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

describe("background failures", () => {
  it("are logged once with the task that failed, and counted", async () => {
    const lines: { obj: Record<string, unknown>; msg?: string }[] = [];
    const logger = {
      warn: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
      error: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
    };
    const store = faultyStore(memoryStore());
    const auth = await createAuth({
      issuer: "https://issuer.test",
      audience: "api",
      store,
      logger,
      keyRefreshInterval: "40ms",
      purgeInterval: "40ms",
    });
    opened.push(auth);
    await auth.ready();
    store.down = true;
    const tasks = () => new Set(lines.map((l) => l.obj.task));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && tasks().size < 4) await new Promise((r) => setTimeout(r, 20));
    store.down = false;

    expect(tasks()).toEqual(new Set(["key reload", "token lifetimes read", "purge", "revocation feed"]));
    // The feed retried many times, but said so once.
    expect(lines.filter((l) => l.obj.task === "revocation feed")).toHaveLength(1);
    for (const { obj } of lines) {
      expect(obj).toMatchObject({ store: "memory" });
      // The store's own error is named, never quoted (a driver's message may carry values).
      expect(JSON.stringify(obj)).not.toMatch(/ECONNREFUSED/);
    }
    expect(auth.metrics.backgroundErrors).toBeGreaterThanOrEqual(lines.length);
    expect(auth.metrics.storeErrors).toBeGreaterThan(0);
  });
});
