/**
 * Pushed security events end to end, on every durable store: a receiver registered with
 * `clients add --events-url` gets OpenID CAEP Security Event Tokens by RFC 8935 push, and verifies
 * each with jose against the server's JWKS. A receiver answering 500 for a while, a server killed
 * in the middle of a delivery, and a revocation made with the CLI while the server is down lose
 * no event. Under CI a missing redis-server or PostgreSQL fails the run (the helpers throw).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";
import { freePort } from "../helpers/free-port.mjs";
import { postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change";
const PASSWORD = "security events password";

interface Received {
  jti: string;
  type: string;
  subId: Record<string, string>;
  event: Record<string, unknown>;
}

/** An RFC 8935 receiver: verifies every SET; can answer 500 or hold requests for a while. */
class Receiver {
  readonly received = new Map<string, Received>();
  readonly deliveries: string[] = [];
  mode: "ok" | "fail" | "hold" = "ok";
  held = 0;
  #server = http.createServer((req, res) => void this.#handle(req, res));
  #jwks: ReturnType<typeof jose.createRemoteJWKSet> | undefined;
  issuer = "";
  url = "";

  async start(): Promise<void> {
    this.#server.listen(0, "127.0.0.1");
    await new Promise((r) => this.#server.once("listening", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/events`;
  }

  follow(issuer: string): void {
    this.issuer = issuer;
    this.#jwks = jose.createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { cooldownDuration: 0 });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = "";
    for await (const c of req) body += c;
    if (this.mode === "hold") {
      this.held++;
      return; // never answers: the sender dies with the request in flight
    }
    if (this.mode === "fail") {
      res.writeHead(500).end();
      return;
    }
    if (req.headers["content-type"] !== "application/secevent+jwt" || !this.#jwks) {
      res.writeHead(400, { "content-type": "application/json" }).end('{"err":"invalid_request"}');
      return;
    }
    try {
      const { payload, protectedHeader } = await jose.jwtVerify(body, this.#jwks, {
        issuer: this.issuer,
        audience: "receiver",
        typ: "secevent+jwt",
      });
      expect(protectedHeader.typ).toBe("secevent+jwt");
      const events = payload.events as Record<string, Record<string, unknown>>;
      const [type] = Object.keys(events) as [string];
      this.deliveries.push(String(payload.jti));
      this.received.set(String(payload.jti), {
        jti: String(payload.jti),
        type,
        subId: payload.sub_id as Record<string, string>,
        event: events[type] ?? {},
      });
      res.writeHead(202).end();
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end('{"err":"authentication_failed"}');
    }
  }

  /** Whether a session-revoked event for this session arrived. */
  hasSession(sid: string): boolean {
    return [...this.received.values()].some((r) => r.type === SESSION_REVOKED && r.subId.id === sid);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}

interface Backend {
  name: string;
  start(): Promise<string | undefined>;
  reason(): string | undefined;
}
let cleanup: (() => Promise<void>)[] = [];
const backends: Backend[] = [
  {
    name: "sqlite",
    async start() {
      const dir = mkdtempSync(join(tmpdir(), "revokit-events-"));
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "auth.db")}`;
    },
    reason: () => undefined,
  },
  {
    name: "redis",
    async start() {
      const redis = await startRedis({ appendonly: true });
      if (redis) cleanup.push(() => redis.stop());
      return redis?.url;
    },
    reason: () => redisUnavailableReason,
  },
  {
    name: "postgres",
    async start() {
      const pg = await startPostgres();
      if (pg) cleanup.push(() => pg.close());
      return (
        pg && `${pg.url}${pg.url.includes("?") ? "&" : "?"}schema=events_${randomBytes(5).toString("hex")}`
      );
    },
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
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

for (const backend of backends) {
  describe(`security events on ${backend.name}`, () => {
    let store: string | undefined;
    let server: ServeProcess | undefined;
    let url: string;
    let args: string[];
    const receiver = new Receiver();

    const login = async (password = PASSWORD) => {
      const res = await post(url, "/auth/login", { username: "eve", password });
      expect(res.status).toBe(200);
      return (await res.json()) as { access_token: string; session_id: string };
    };

    beforeAll(async () => {
      store = await backend.start();
      if (!store) return;
      await receiver.start();
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      args = ["--store", store, "--port", String(port), "--issuer", issuer];
      server = await startServe(args);
      url = server.url;
      receiver.follow(issuer);
      const added = await runCli([
        "clients",
        "add",
        "receiver",
        "--events-url",
        receiver.url,
        "--store",
        store,
      ]);
      expect(added.stderr).toBe("");
      expect(added.code).toBe(0);
      expect((await post(url, "/auth/register", { username: "eve", password: PASSWORD })).status).toBe(201);
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      await receiver.close();
    });

    it("pushes session-revoked on logout and credential-change on a password change, signed", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      const a = await login();
      expect((await post(url, "/auth/logout", {}, a.access_token)).status).toBe(204);
      await eventually("session-revoked for the logout", async () => receiver.hasSession(a.session_id));
      const event = [...receiver.received.values()].find((r) => r.subId.id === a.session_id);
      expect(event?.subId).toEqual({ format: "opaque", id: a.session_id });
      expect(event?.event).toMatchObject({
        event_timestamp: expect.any(Number),
        reason_admin: { en: "logout" },
      });

      const b = await login();
      const c = await login();
      const changed = await post(
        url,
        "/auth/password",
        { current_password: PASSWORD, new_password: `${PASSWORD}!` },
        b.access_token,
      );
      expect(changed.status).toBe(204);
      await eventually("credential-change", async () =>
        [...receiver.received.values()].some((r) => r.type === CREDENTIAL_CHANGE),
      );
      await eventually("the other session is revoked", async () => receiver.hasSession(c.session_id));
      const credential = [...receiver.received.values()].find((r) => r.type === CREDENTIAL_CHANGE);
      expect(credential?.subId).toMatchObject({ format: "iss_sub", iss: receiver.issuer });
      expect(credential?.event).toMatchObject({ credential_type: "password", change_type: "update" });
      expect(
        (
          await post(
            url,
            "/auth/password",
            { current_password: `${PASSWORD}!`, new_password: PASSWORD },
            b.access_token,
          )
        ).status,
      ).toBe(204);
    });

    it("loses nothing while the receiver answers 500, then retries", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      receiver.mode = "fail";
      const sessions = [await login(), await login()];
      for (const s of sessions)
        expect((await post(url, "/auth/logout", {}, s.access_token)).status).toBe(204);
      await new Promise((r) => setTimeout(r, 1500));
      for (const s of sessions) expect(receiver.hasSession(s.session_id)).toBe(false);
      receiver.mode = "ok";
      for (const s of sessions) {
        await eventually(`retried ${s.session_id}`, async () => receiver.hasSession(s.session_id), 15_000);
      }
    });

    it("loses nothing when the server is killed mid-delivery, nor a CLI revocation made while it is down", async (ctx) => {
      if (!store || !server) return ctx.skip(backend.reason());
      const inFlight = await login();
      const whileDown = await login();
      receiver.mode = "hold";
      const held = receiver.held;
      expect((await post(url, "/auth/logout", {}, inFlight.access_token)).status).toBe(204);
      await eventually("a delivery is in flight", async () => receiver.held > held);
      server.child.kill("SIGKILL");
      await new Promise((r) => server?.child.once("exit", r));
      const revoked = await runCli(["revoke", `--session=${whileDown.session_id}`, "--store", store]);
      expect(revoked.code).toBe(0);
      receiver.mode = "ok";
      server = await startServe(args);
      url = server.url;
      for (const s of [inFlight, whileDown]) {
        await eventually(`delivered ${s.session_id}`, async () => receiver.hasSession(s.session_id), 20_000);
      }
    });

    it("stops sending to a client once it is removed", async (ctx) => {
      if (!store) return ctx.skip(backend.reason());
      const removed = await runCli(["clients", "remove", "receiver", "--store", store]);
      expect(removed.code).toBe(0);
      const t = await login();
      expect((await post(url, "/auth/logout", {}, t.access_token)).status).toBe(204);
      await new Promise((r) => setTimeout(r, 1500));
      expect(receiver.hasSession(t.session_id)).toBe(false);
    });
  });
}
