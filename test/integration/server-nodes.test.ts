/**
 * Several `revokit serve` processes on one shared store (Redis, PostgreSQL) are one service:
 * shared keys, users, sessions, rate limits and revocations. A logout on one node is refused by the
 * other. Under CI a missing redis-server or PostgreSQL fails the run (the helpers throw).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";
import { postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const PASSWORD = "shared store password";

interface Backend {
  name: string;
  /** The `--store` URL, or `undefined` when the backend is not installed (outside CI). */
  start(): Promise<string | undefined>;
  stop(): Promise<void>;
  reason(): string | undefined;
}

let stopRedis: (() => Promise<void>) | undefined;
let stopPostgres: (() => Promise<void>) | undefined;

const backends: Backend[] = [
  {
    name: "redis",
    async start() {
      const redis = await startRedis({ appendonly: true });
      stopRedis = redis?.stop;
      return redis?.url;
    },
    stop: async () => stopRedis?.(),
    reason: () => redisUnavailableReason,
  },
  {
    name: "postgres",
    async start() {
      const pg = await startPostgres();
      stopPostgres = pg?.close;
      // A schema of its own: other tests may share the database.
      return (
        pg && `${pg.url}${pg.url.includes("?") ? "&" : "?"}schema=nodes_${randomBytes(5).toString("hex")}`
      );
    },
    stop: async () => stopPostgres?.(),
    reason: () => postgresUnavailableReason,
  },
];

const json = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

async function login(url: string, username: string) {
  const res = await json(url, "/auth/login", { username, password: PASSWORD });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string; session_id: string };
}

const me = (url: string, token: string) =>
  fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });

for (const backend of backends) {
  describe(`two server processes on one ${backend.name}`, () => {
    let store: string | undefined;
    let a: ServeProcess;
    let b: ServeProcess;

    beforeAll(async () => {
      store = await backend.start();
      if (!store) return;
      // Nodes of one service share the public issuer (a load balancer's URL).
      const args = ["--store", store, "--issuer", "https://auth.nodes.test", "--login-max-failures", "3"];
      [a, b] = await Promise.all([startServe(args), startServe(args)]);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await backend.stop();
    });

    it("share users, keys and sessions; a logout on one node is refused by the other", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      expect((await json(a.url, "/auth/register", { username: "shared", password: PASSWORD })).status).toBe(
        201,
      );
      const first = await login(b.url, "shared");
      const second = await login(a.url, "shared");
      // One node's token works on the other: the keys are shared.
      expect((await me(a.url, first.access_token)).status).toBe(200);
      expect((await me(b.url, second.access_token)).status).toBe(200);

      // Log `first` out on node A; node B refuses its copied access token and its refresh token.
      expect(
        (
          await fetch(`${a.url}/auth/logout`, {
            method: "POST",
            headers: { authorization: `Bearer ${first.access_token}` },
          })
        ).status,
      ).toBe(204);
      await eventually(
        "node B refuses the logged-out token",
        async () => (await me(b.url, first.access_token)).status === 401,
      );
      const refresh = await json(b.url, "/auth/refresh", { refresh_token: first.refresh_token });
      expect(refresh.status).toBe(400);
      expect(((await refresh.json()) as { error: string }).error).toBe("invalid_grant");
      expect((await me(b.url, second.access_token)).status).toBe(200);

      // Logout-all on node B reaches node A.
      expect(
        (
          await fetch(`${b.url}/auth/logout-all`, {
            method: "POST",
            headers: { authorization: `Bearer ${second.access_token}` },
          })
        ).status,
      ).toBe(204);
      await eventually(
        "node A refuses after logout-all",
        async () => (await me(a.url, second.access_token)).status === 401,
      );
    });

    it("share login rate limits", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      expect((await json(a.url, "/auth/register", { username: "limited", password: PASSWORD })).status).toBe(
        201,
      );
      for (const node of [a, b, a]) {
        expect(
          (await json(node.url, "/auth/login", { username: "limited", password: "wrong password" })).status,
        ).toBe(401);
      }
      const refused = await json(b.url, "/auth/login", { username: "limited", password: PASSWORD });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    });

    it("an admin revocation through the CLI reaches both nodes", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      const t = await login(a.url, "shared");
      const r = await runCli(["revoke", `--session=${t.session_id}`, "--store", store]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      for (const node of [a, b]) {
        await eventually(
          `${node.url} refuses`,
          async () => (await me(node.url, t.access_token)).status === 401,
        );
      }
    });
  });
}
