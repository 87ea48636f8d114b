import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.js";
import { ConfigInvalidError, StoreUnavailableError } from "../../src/core/errors.js";
import { hashRefreshToken, refreshTokenBinding } from "../../src/core/ids.js";
import type { Store } from "../../src/stores/contract.js";
import { type SqliteStoreOptions, sqliteStore } from "../../src/stores/sqlite/index.js";
import { runStoreContract } from "./store-contract.js";

// A file shared by two store instances: the second one plays "another process" on the same file.
runStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "revokit-sqlite-"));
  const path = join(dir, "nested", "auth.db");
  return {
    store: sqliteStore({ path, pollInterval: "5ms" }),
    peer: async () => sqliteStore({ path, pollInterval: "5ms" }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runStoreContract("sqlite :memory:", async () => ({ store: sqliteStore({ path: ":memory:" }) }));

describe("sqlite store specifics", () => {
  let dir: string;
  const opened: Store[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "revokit-sqlite-"));
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function open(options: Partial<SqliteStoreOptions> = {}): Promise<Store> {
    const store = sqliteStore({ path: join(dir, "auth.db"), ...options });
    opened.push(store);
    await store.open();
    return store;
  }

  it("checks its options at once, with ERR_CONFIG_INVALID", () => {
    const bad: unknown[] = [
      {},
      { path: "" },
      { path: "x.db", pollInterval: 0 },
      { path: "x.db", busyTimeout: -1 },
      { path: "x.db", purgeInterval: Number.NaN },
      { path: "x.db", synchronous: "off" },
    ];
    for (const options of bad) {
      expect(() => sqliteStore(options as SqliteStoreOptions)).toThrow(ConfigInvalidError);
    }
    expect(sqliteStore({ path: ":memory:" }).durable).toBe(false);
    expect(sqliteStore({ path: "x.db" }).durable).toBe(true);
  });

  it("creates the parent directories of its file", async () => {
    const path = join(dir, "a", "b", "c", "auth.db");
    const store = sqliteStore({ path });
    opened.push(store);
    await store.open();
    expect(existsSync(path)).toBe(true);
  });

  it("fails with ERR_STORE_UNAVAILABLE when closed or not open, and works again after open", async () => {
    const store = sqliteStore({ path: join(dir, "auth.db") });
    opened.push(store);
    await expect(store.getSession("x")).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    await store.open();
    await store.close();
    await expect(store.check({ jti: "x" }, 0)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.changes("0", { waitMs: 0, limit: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.open();
    expect((await store.check({ jti: "x" }, 0)).jtiRevoked).toBe(false);
  });

  it("fails with ERR_STORE_UNAVAILABLE when another process holds the write lock past busyTimeout", async () => {
    const store = await open({ busyTimeout: "50ms" });
    const locker = new Database(join(dir, "auth.db"));
    try {
      locker.exec("BEGIN IMMEDIATE");
      const entry = { kind: "jti", subject: "j1", expiresAt: 10, reason: "r", actor: "a", at: 1 } as const;
      const error = await store.addRevocation(entry).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).message).toContain("SQLITE_BUSY");
      // Reads still work beside a writer (WAL).
      expect((await store.check({ jti: "j1" }, 0)).jtiRevoked).toBe(false);
      locker.exec("ROLLBACK");
      expect(await store.addRevocation(entry)).not.toBeNull();
    } finally {
      locker.close();
    }
  });

  it("purges expired rows by itself, never later than the time it was last given", async () => {
    const store = await open({ purgeInterval: "10ms" });
    const T = Date.UTC(2025, 0, 1);
    await store.addRevocation({
      kind: "jti",
      subject: "old",
      expiresAt: T + 10,
      reason: "r",
      actor: "a",
      at: T,
    });
    await store.addRevocation({
      kind: "jti",
      subject: "new",
      expiresAt: T + 1000,
      reason: "r",
      actor: "a",
      at: T,
    });
    const raw = new Database(join(dir, "auth.db"), { readonly: true });
    const count = () => (raw.prepare("SELECT count(*) AS n FROM revocations").get() as { n: number }).n;
    try {
      await store.check({}, T + 20); // the latest time the store knows of
      for (let i = 0; i < 500 && count() > 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(count()).toBe(1);
      expect((await store.check({ jti: "new" }, T + 20)).jtiRevoked).toBe(true);
    } finally {
      raw.close();
    }
  });

  it("never shortens how long a user cutoff is kept, in the table and in its feed entry", async () => {
    const store = await open();
    const T = Date.UTC(2025, 0, 1);
    const long = { reason: "user_disabled", actor: "admin", at: T, ttl: 9_000_000 };
    await store.cutOffUser("u1", long);
    const { cursor } = await store.snapshot(T);
    await store.cutOffUser("u1", { reason: "logout_all", actor: "u1", at: T + 1000, ttl: 60_000 });
    const batch = await store.changes(cursor, { waitMs: 0, limit: 10 });
    expect(batch.entries.map((e) => [e.kind, e.cutoff, e.expiresAt])).toEqual([
      ["user", T + 1000, T + 9_000_000],
    ]);
    const snap = await store.snapshot(T + 1000);
    expect(snap.entries.find((e) => e.kind === "user")?.expiresAt).toBe(T + 9_000_000);
  });

  it("logs a background purge that failed, with context and no driver message", async () => {
    const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
    const logger = {
      warn: (obj: object, msg?: string) => warnings.push({ obj: obj as never, msg }),
      error() {},
    };
    const store = await open({ purgeInterval: "10ms", logger });
    await store.check({}, Date.UTC(2025, 0, 1)); // gives the timer a time to purge with
    // The connection breaks under the store (as a failing disk would make it unusable).
    (store as unknown as { outboxAccess(): { db(): Database.Database } }).outboxAccess().db().close();
    for (let i = 0; i < 200 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(warnings[0]?.obj).toEqual({
      store: "sqlite",
      op: "purge",
      err: "the sqlite store is closed (purge)",
    });
    expect(warnings[0]?.msg).toMatch(/purge/);
  });

  it("stores refresh tokens only as their hashes", async () => {
    const path = join(dir, "hashes.db");
    const auth = await createAuth({
      issuer: "https://auth.test",
      audience: "api",
      store: sqliteStore({ path, synchronous: "full" }),
      logger: { warn() {}, error() {} },
    });
    const binding = refreshTokenBinding("https://auth.test", "api");
    const first = await auth.login("user-1");
    const second = await auth.refresh(first.refreshToken);
    const raw = new Database(path, { readonly: true });
    try {
      const stored = (raw.prepare("SELECT hash FROM refresh_tokens").all() as { hash: string }[]).map(
        (r) => r.hash,
      );
      expect(stored.sort()).toEqual(
        [first.refreshToken, second.refreshToken].map((t) => hashRefreshToken(t, binding)).sort(),
      );
    } finally {
      raw.close();
    }
    await auth.close();
    const bytes = Buffer.concat(
      ["", "-wal"].filter((s) => existsSync(path + s)).map((s) => readFileSync(path + s)),
    ).toString("latin1");
    for (const t of [first.refreshToken, second.refreshToken]) {
      expect(bytes.includes(t)).toBe(false);
      expect(bytes.includes(hashRefreshToken(t, binding))).toBe(true);
    }
  });
});
