/**
 * Start-up checks and failure behaviour of the Redis store against a real redis-server: refusing
 * eviction, warning about persistence, tolerating a forbidden CONFIG, failing fast while Redis is
 * down and recovering by itself, and leaving a caller's own client alone.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.js";
import type { Logger } from "../../src/core/logger.js";
import type { Store } from "../../src/stores/contract.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { freePort } from "../helpers/free-port.mjs";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const server: RedisServer | undefined = await startRedis();
afterAll(() => server?.stop());

interface Warning {
  obj: object;
  msg?: string;
}

function recorder(): Logger & { warnings: Warning[] } {
  const warnings: Warning[] = [];
  return {
    warn: (obj, msg) => warnings.push({ obj, msg }),
    error: (obj, msg) => warnings.push({ obj, msg }),
    warnings,
  };
}

function prefix(): string {
  return `s${randomBytes(5).toString("hex")}:`;
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error("expected a rejection");
}

const jti = (subject: string) => ({
  kind: "jti" as const,
  subject,
  expiresAt: Date.now() + 60_000,
  reason: "r",
  actor: "t",
  at: Date.now(),
});

describe.skipIf(!server)(`redis start-up and failures ${server ? "" : `(${redisUnavailableReason})`}`, () => {
  it("refuses to open when maxmemory-policy could evict revocations", async () => {
    if (!server) return;
    try {
      for (const policy of ["allkeys-lru", "volatile-ttl"]) {
        await server.cli("CONFIG", "SET", "maxmemory-policy", policy);
        const store = redisStore({ url: server.url }, { prefix: prefix(), logger: recorder() });
        const error = await failure(store.open());
        expect(error.code).toBe("ERR_CONFIG_INVALID");
        expect(error.message).toContain(`"${policy}"`);
        expect(error.message).toContain("noeviction");
        await store.close();
      }
      // Through createAuth too: a configuration error, not an outage.
      const auth = createAuth({
        issuer: "https://issuer.test",
        audience: "api",
        store: redisStore({ url: server.url }, { prefix: prefix(), logger: recorder() }),
      });
      expect((await failure(auth)).code).toBe("ERR_CONFIG_INVALID");
    } finally {
      await server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
  });

  it("warns when persistence is off, and not when AOF is on", async () => {
    if (!server) return;
    const off = recorder();
    const a = redisStore({ url: server.url }, { prefix: prefix(), logger: off });
    await a.open();
    await a.close();
    expect(off.warnings).toHaveLength(1);
    expect(off.warnings[0]?.msg).toMatch(/persistence is off/);
    try {
      await server.cli("CONFIG", "SET", "appendonly", "yes");
      const on = recorder();
      const b = redisStore({ url: server.url }, { prefix: prefix(), logger: on });
      await b.open();
      await b.close();
      expect(on.warnings).toEqual([]);
    } finally {
      await server.cli("CONFIG", "SET", "appendonly", "no");
    }
  });

  it("warns instead of refusing when CONFIG is forbidden, and works", async () => {
    if (!server) return;
    await server.cli("ACL", "SETUSER", "limited", "on", ">not-for-logs", "~*", "&*", "+@all", "-config");
    const log = recorder();
    const store = redisStore(
      { url: `redis://limited:not-for-logs@127.0.0.1:${server.port}` },
      { prefix: prefix(), logger: log },
    );
    await store.open();
    expect(await store.addRevocation(jti("limited"))).not.toBeNull();
    await store.close();
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]?.msg).toMatch(/cannot read the Redis configuration/);
    expect(JSON.stringify(log.warnings)).not.toContain("not-for-logs");
  });

  it("fails fast with ERR_STORE_UNAVAILABLE when Redis is unreachable at start", async () => {
    const port = await freePort();
    const store = redisStore({ url: `redis://127.0.0.1:${port}` }, { logger: recorder() });
    const started = Date.now();
    const error = await failure(store.open());
    expect(error.code).toBe("ERR_STORE_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(8_000);
    await store.close();
  });

  it("fails every call fast while Redis is down, and recovers by itself when it returns", async () => {
    const own = await startRedis({ appendonly: true });
    if (!own) return;
    const store: Store = redisStore(
      { url: own.url },
      { prefix: prefix(), logger: recorder(), commandTimeout: "1s" },
    );
    try {
      await store.open();
      const before = await store.addRevocation(jti("before-outage"));
      await own.kill();
      const started = Date.now();
      for (const call of [
        () => store.addRevocation(jti("during-outage")),
        () => store.check({ jti: "before-outage" }, Date.now()),
        () => store.snapshot(Date.now()),
        () => store.changes(before?.seq ?? "", { waitMs: 200, limit: 10 }),
        () => store.revokeSession("any", { reason: "r", actor: "t", at: Date.now(), ttl: 1_000 }),
      ]) {
        expect((await failure(call())).code).toBe("ERR_STORE_UNAVAILABLE");
      }
      expect(Date.now() - started).toBeLessThan(8_000);

      await own.restart();
      const deadline = Date.now() + 10_000;
      for (;;) {
        const ok = await store.check({ jti: "before-outage" }, Date.now()).then(
          (r) => r.jtiRevoked,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error("the store did not recover");
        await new Promise((r) => setTimeout(r, 50));
      }
      // The failed write did not happen; writes work again; the feed goes on from the old cursor.
      expect((await store.check({ jti: "during-outage" }, Date.now())).jtiRevoked).toBe(false);
      const after = await store.addRevocation(jti("after-outage"));
      const batch = await store.changes(before?.seq ?? "", { waitMs: 0, limit: 10 });
      expect(batch.entries).toEqual([after]);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it("with { client } uses the caller's connection and leaves it open on close", async () => {
    if (!server) return;
    const client = new Redis(server.url);
    try {
      const store = redisStore({ client }, { prefix: prefix(), logger: recorder() });
      await store.open();
      const entry = await store.addRevocation(jti("own-client"));
      const snap = await store.snapshot(Date.now());
      expect(snap.entries.map((e) => e.subject)).toEqual(["own-client"]);
      expect(entry?.seq).toBe(snap.cursor);
      await store.close();
      expect(await client.ping()).toBe("PONG");
      expect(() => redisStore({ client: new Redis({ lazyConnect: true, keyPrefix: "x:" }) })).toThrow(
        /keyPrefix/,
      );
    } finally {
      client.disconnect();
    }
  });
});
