/**
 * Every Redis connection problem says where and why (refused, authentication, TLS, timeout), never
 * the bare "Connection is closed.", and never the password of the URL.
 */
import { createServer, type Server } from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { freePort } from "../helpers/free-port.mjs";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const quiet = { warn: () => undefined, error: () => undefined };
const PASSWORD = "s3cret-never-printed";

const server: RedisServer | undefined = await startRedis();
if (server) {
  // A user with a password (the default user stays open, so the helper can still ping).
  const admin = new Redis(server.url);
  await admin.call("ACL", "SETUSER", "alice", "on", ">right-password", "~*", "+@all");
  admin.disconnect();
}
const silent: Server[] = [];
afterAll(async () => {
  await server?.stop();
  for (const s of silent) s.close();
});

/** A TCP server that accepts and answers `reply` (or nothing at all). */
async function listener(reply?: string): Promise<number> {
  const port = await freePort();
  const srv = createServer((socket) => {
    socket.on("error", () => undefined);
    if (reply !== undefined) socket.end(reply);
  });
  silent.push(srv);
  await new Promise<void>((resolve) => srv.listen(port, "127.0.0.1", resolve));
  return port;
}

async function openError(url: string, timeout = "300ms"): Promise<Error & { code?: string }> {
  const store = redisStore({ url }, { logger: quiet, commandTimeout: timeout });
  try {
    await store.open();
  } catch (error) {
    return error as Error & { code?: string };
  } finally {
    await store.close();
  }
  throw new Error("open() succeeded");
}

describe("redis connection errors", () => {
  it("connection refused: the address and ECONNREFUSED, without the password", async () => {
    const port = await freePort();
    const error = await openError(`redis://user:${PASSWORD}@127.0.0.1:${port}`);
    expect(error.code).toBe("ERR_STORE_UNAVAILABLE");
    expect(error.message).toContain(`redis at 127.0.0.1:${port}`);
    expect(error.message).toMatch(/connection refused \(ECONNREFUSED\)/);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.message).not.toMatch(/^.*Connection is closed\.?$/);
  });

  it("a server that never answers: timed out", async () => {
    const port = await listener();
    const error = await openError(`redis://127.0.0.1:${port}`);
    expect(error.message).toContain(`redis at 127.0.0.1:${port}`);
    expect(error.message).toMatch(/timed out/);
  });

  it("TLS to a server that does not speak it: TLS failed", async () => {
    const port = await listener("+PONG\r\n-not tls at all\r\n");
    // Longer than the other cases: on a loaded machine the handshake's failure came after 300 ms.
    const error = await openError(`rediss://:${PASSWORD}@127.0.0.1:${port}`, "3s");
    expect(error.message).toContain(`redis at 127.0.0.1:${port}`);
    expect(error.message).toMatch(/TLS failed/);
    expect(error.message).not.toContain(PASSWORD);
  });

  it.skipIf(!server && !process.env.CI)(
    `a wrong password: authentication failed ${redisUnavailableReason ?? ""}`,
    async () => {
      if (!server) throw new Error(redisUnavailableReason);
      const error = await openError(`redis://alice:${PASSWORD}@127.0.0.1:${server.port}`);
      expect(error.message).toContain(`redis at 127.0.0.1:${server.port}`);
      expect(error.message).toMatch(/authentication failed \(WRONGPASS\)/);
      expect(error.message).not.toContain(PASSWORD);
    },
  );
});

describe("a closed redis store", () => {
  it.skipIf(!server && !process.env.CI)(
    `rejects every call with ERR_STORE_UNAVAILABLE and leaves no rejection unhandled ${redisUnavailableReason ?? ""}`,
    async () => {
      if (!server) throw new Error(redisUnavailableReason);
      const unhandled: unknown[] = [];
      const record = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", record);
      try {
        const store = redisStore({ url: server.url }, { logger: quiet, prefix: `closed-${Date.now()}:` });
        await store.open();
        await store.close();
        // A verification that asks the store while it closes (shutdown under load): `check` reads
        // several keys at once, and one failing must not orphan the others' rejections.
        const calls: [string, () => Promise<unknown>][] = [
          ["check", () => store.check({ jti: "a".repeat(22), sessionId: "b".repeat(22), userId: "u" }, 1)],
          ["getSession", () => store.getSession("b".repeat(22))],
          ["listKeys", () => store.listKeys()],
          ["snapshot", () => store.snapshot(1)],
        ];
        for (const [name, call] of calls) {
          const error = await call().then(
            () => new Error(`${name} resolved`),
            (e: unknown) => e as Error & { code?: string },
          );
          expect({ name, code: (error as { code?: string }).code }).toEqual({
            name,
            code: "ERR_STORE_UNAVAILABLE",
          });
        }
        // Unhandled rejections are reported after the microtask queue drains.
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
      } finally {
        process.off("unhandledRejection", record);
      }
    },
  );
});
