/**
 * A resource server in another process follows a real `revokit serve` over HTTP with
 * `revokit/verifier`, on every durable store: a logout is refused at the verifier; with the server
 * stopped it answers ERR_REVOCATION_UNAVAILABLE after maxStaleness, never accepts a token revoked
 * meanwhile with the CLI, and recovers by itself; a disconnect in the middle of the feed loses
 * nothing. Under CI a missing redis-server or PostgreSQL fails the run (the helpers throw).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";
import { freePort } from "../helpers/free-port.mjs";
import { IpcChild } from "../helpers/ipc-child.js";
import { postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { redisUnavailableReason, startRedis } from "../helpers/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const FIXTURE = join(ROOT, "test/fixtures/verifier-node.mjs");
const PASSWORD = "remote verifier password";
const REVOKED = ["ERR_SESSION_REVOKED", "ERR_TOKEN_REVOKED"];

interface Backend {
  name: string;
  start(): Promise<string | undefined>;
  stop(): Promise<void>;
  reason(): string | undefined;
}

let cleanup: (() => Promise<void>)[] = [];

const backends: Backend[] = [
  {
    name: "sqlite",
    async start() {
      const dir = mkdtempSync(join(tmpdir(), "revokit-remote-"));
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "auth.db")}`;
    },
    stop: async () => undefined,
    reason: () => undefined,
  },
  {
    name: "redis",
    async start() {
      const redis = await startRedis({ appendonly: true });
      if (redis) cleanup.push(() => redis.stop());
      return redis?.url;
    },
    stop: async () => undefined,
    reason: () => redisUnavailableReason,
  },
  {
    name: "postgres",
    async start() {
      const pg = await startPostgres();
      if (pg) cleanup.push(() => pg.close());
      return (
        pg && `${pg.url}${pg.url.includes("?") ? "&" : "?"}schema=remote_${randomBytes(5).toString("hex")}`
      );
    },
    stop: async () => undefined,
    reason: () => postgresUnavailableReason,
  },
];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const post = (url: string, path: string, body: unknown, token?: string) =>
  fetch(url + path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

async function login(url: string, username: string) {
  const res = await post(url, "/auth/login", { username, password: PASSWORD });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string; session_id: string };
}

for (const backend of backends) {
  describe(`a remote verifier following revokit serve on ${backend.name}`, () => {
    let store: string | undefined;
    let port: number;
    let proxy: TcpProxy;
    let issuer: string;
    let server: ServeProcess | undefined;
    let verifier: IpcChild | undefined;
    let direct: string;

    const serve = async () => {
      server = await startServe(["--store", store as string, "--port", String(port), "--issuer", issuer]);
      direct = server.url;
    };

    beforeAll(async () => {
      store = await backend.start();
      if (!store) return;
      port = await freePort();
      proxy = await startTcpProxy(port);
      cleanup.push(() => proxy.close());
      // The issuer is the proxy: the verifier reaches metadata, JWKS and feed through it.
      issuer = `http://127.0.0.1:${proxy.port}`;
      await serve();
      const added = await runCli(["clients", "add", "orders-api", "--store", store]);
      expect(added.code).toBe(0);
      const { client_secret } = JSON.parse(added.stdout) as { client_secret: string };
      expect((await post(direct, "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(
        201,
      );
      verifier = await IpcChild.start(FIXTURE, [
        JSON.stringify({
          issuer,
          audience: "api",
          clientId: "orders-api",
          clientSecret: client_secret,
          maxStaleness: "1s",
        }),
      ]);
    }, 120_000);

    afterAll(async () => {
      await verifier?.stop();
      await server?.stop();
      await backend.stop();
    });

    it("accepts a live token and refuses it after a logout, within the bound", async (ctx) => {
      if (!store || !verifier) return ctx.skip(backend.reason());
      const t = await login(direct, "alice");
      expect(await verifier.ok("verify", t.access_token)).toBe("valid");
      expect((await post(direct, "/auth/logout", {}, t.access_token)).status).toBe(204);
      const ms = await verifier.ok<number | null>("waitFor", t.access_token, "ERR_SESSION_REVOKED", 5000);
      expect(ms).not.toBeNull();
      // Logout-all (the user grain) too.
      const [a, b] = [await login(direct, "alice"), await login(direct, "alice")];
      expect((await post(direct, "/auth/logout-all", {}, a.access_token)).status).toBe(204);
      for (const x of [a, b]) {
        expect(await verifier.ok("waitFor", x.access_token, "ERR_SESSION_REVOKED", 5000)).not.toBeNull();
      }
    });

    it("refuses tokens a wrong audience or another issuer would carry, with the node's codes", async (ctx) => {
      if (!store || !verifier) return ctx.skip(backend.reason());
      expect(await verifier.ok("verify", "not-a-token")).toBe("ERR_TOKEN_INVALID");
      const t = await login(direct, "alice");
      const [h, p, s] = t.access_token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "mallory" })).toString("base64url")}.${s}`;
      expect(await verifier.ok("verify", forged)).toBe("ERR_TOKEN_INVALID");
    });

    it("loses nothing when the feed connection is cut mid-stream", async (ctx) => {
      if (!store || !verifier) return ctx.skip(backend.reason());
      const sessions = await Promise.all(Array.from({ length: 8 }, () => login(direct, "alice")));
      for (const t of sessions) expect(await verifier.ok("verify", t.access_token)).toBe("valid");
      // Revocations land while every connection through the proxy is cut, again and again.
      const cutter = setInterval(() => proxy.cut(), 15);
      try {
        for (const t of sessions) {
          expect((await post(direct, "/auth/logout", {}, t.access_token)).status).toBe(204);
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        clearInterval(cutter);
      }
      for (const t of sessions) {
        expect(await verifier.ok("waitFor", t.access_token, "ERR_SESSION_REVOKED", 5000)).not.toBeNull();
      }
    });

    it("with the server down: unavailable after maxStaleness, never accepts a CLI revocation, recovers", async (ctx) => {
      if (!store || !verifier || !server) return ctx.skip(backend.reason());
      const live = await login(direct, "alice");
      const doomed = await login(direct, "alice");
      expect(await verifier.ok("verify", doomed.access_token)).toBe("valid");
      await server.stop();
      expect(
        await verifier.ok("waitFor", live.access_token, "ERR_REVOCATION_UNAVAILABLE", 5000),
      ).not.toBeNull();
      // Revoked with the CLI while the server is down: the verifier must never accept it again.
      const revoked = await runCli(["revoke", `--session=${doomed.session_id}`, "--store", store]);
      expect(revoked.code).toBe(0);
      const watching = verifier.ok<string[]>("watch", doomed.access_token, 4000, 5);
      await new Promise((r) => setTimeout(r, 300));
      await serve();
      const seen = await watching;
      expect(seen).not.toContain("valid");
      expect(seen).toContain("ERR_SESSION_REVOKED");
      // It recovered by itself: the live token is accepted again.
      await eventually("the verifier accepts the live token again", async () => {
        return (await verifier?.ok("verify", live.access_token)) === "valid";
      });
      const status = await verifier.ok<{ replica: { fresh: boolean } }>("status");
      expect(status.replica.fresh).toBe(true);
      expect(REVOKED).toContain(await verifier.ok("verify", doomed.access_token));
    });
  });
}
