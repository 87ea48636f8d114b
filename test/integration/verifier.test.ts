/**
 * `revokit/verifier` against a real server over real HTTP, in this process: the revocation feed
 * endpoint (client authentication, parameters, snapshot and heartbeat shapes), the verifier's
 * options, every grain reaching it, `requireAuth(verifier)` in Express, Fastify and Hono, and the
 * promise that importing it loads no store driver.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { createAdaptorServer } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigInvalidError } from "../../src/core/errors.js";
import type { TokenVerifier } from "../../src/core/token-verifier.js";
import * as expressAuth from "../../src/http/express.js";
import * as fastifyAuth from "../../src/http/fastify.js";
import * as honoAuth from "../../src/http/hono.js";
import { memoryStore } from "../../src/index.js";
import { idWords } from "../../src/replica/compact-index.js";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import { hashSecret } from "../../src/server/passwords.js";
import { createVerifier, type Verifier } from "../../src/verifier/index.js";
import { ROOT } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";
import { basicAuth } from "../helpers/server-client.js";
import { syncOutcome } from "../helpers/sync-outcome.js";

const SECRET = "a long random client secret for the feed";
const quiet = { warn: () => undefined, error: () => undefined };
let server: RevokitServer;
let url: string;
let verifier: Verifier;

const feed = (query: string, headers: Record<string, string> = basicAuth("rs", SECRET)) =>
  fetch(`${url}/oauth/revocation-feed${query}`, { headers });

/** What `verify` answers ("valid" or the code); a remote verifier's `verifySync` must answer the same, at the same moment. */
async function outcome(v: TokenVerifier, token: string): Promise<string> {
  const sync = v instanceof Object && "verifySync" in v ? syncOutcome(v as Verifier, token) : undefined;
  let answer: string;
  try {
    await v.verify(token);
    answer = "valid";
  } catch (error) {
    answer = (error as { code: string }).code;
  }
  if (sync !== undefined) expect(sync, "verifySync").toBe(answer);
  return answer;
}

beforeAll(async () => {
  server = await createServer({
    store: memoryStore(),
    port: 0,
    logger: "silent",
    scrypt: { N: 2 ** 12, r: 8, p: 1 },
  });
  url = await server.listen();
  const secretHash = await hashSecret(SECRET, { N: 2 ** 12, r: 8, p: 1 });
  await server.store.addClient({ clientId: "rs", secretHash, createdAt: Date.now() });
  await server.store.addClient({ clientId: "public-app", secretHash: null, createdAt: Date.now() });
  verifier = await createVerifier({
    issuer: server.issuer,
    audience: "api",
    clientId: "rs",
    clientSecret: SECRET,
    maxStaleness: "500ms",
    logger: quiet,
  });
  await verifier.ready();
});

afterAll(async () => {
  await verifier?.close();
  await server?.close();
});

describe("the revocation feed endpoint", () => {
  it("is advertised in the metadata", async () => {
    const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.revocation_feed_endpoint).toBe(`${server.issuer}/oauth/revocation-feed`);
  });

  it("answers confidential clients only", async () => {
    const none = await feed("?snapshot=true", {});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: "invalid_client" });
    expect((await feed("?snapshot=true", basicAuth("rs", "wrong secret"))).status).toBe(401);
    expect((await feed("?snapshot=true", basicAuth("public-app", ""))).status).toBe(401);
  });

  it("refuses malformed parameters with 400 invalid_request", async () => {
    for (const q of [
      "",
      "?cursor=0&wait=-1",
      "?cursor=0&wait=99999999",
      "?cursor=0&x=1",
      "?snapshot=yes",
      "?snapshot=true&cursor=0",
      "?cursor=0&cursor=1",
      `?cursor=${"9".repeat(300)}`,
      "?cursor=%00",
    ]) {
      const res = await feed(q);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error, q).toBe("invalid_request");
    }
  });

  it("gives a snapshot, then entries after its cursor, and empty heartbeats", async () => {
    const t0 = await server.auth.login("snapshot-user");
    await server.auth.revokeAccessToken(t0.accessToken);
    const res = await feed("?snapshot=true");
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split("\n");
    // One line per active revocation, the head last.
    const snap = JSON.parse(lines.at(-1) ?? "") as { cursor: string; epoch: string; global_cutoff: number };
    const { jti } = JSON.parse(Buffer.from(t0.accessToken.split(".")[1] ?? "", "base64url").toString()) as {
      jti: string;
    };
    expect(lines.slice(0, -1)).toContainEqual(expect.stringMatching(new RegExp(`^jti\t${jti}\t\\d+$`)));
    expect(typeof snap.cursor).toBe("string");
    expect(typeof snap.global_cutoff).toBe("number");
    const heartbeat = await feed(`?cursor=${encodeURIComponent(snap.cursor)}&wait=0`);
    expect(heartbeat.status).toBe(200);
    expect(heartbeat.headers.get("cache-control")).toBe("no-store");
    expect(await heartbeat.json()).toEqual({ epoch: snap.epoch, cursor: snap.cursor, entries: [] });
    const t = await server.auth.login("feed-user");
    await server.auth.logout(t.sessionId);
    const next = (await (await feed(`?cursor=${encodeURIComponent(snap.cursor)}&wait=2000`)).json()) as {
      entries: Record<string, unknown>[];
    };
    // Every field of the entry travels, whatever its kind.
    expect(next.entries).toContainEqual(
      expect.objectContaining({ kind: "session", subject: t.sessionId, reason: "logout", actor: "system" }),
    );
    expect(Object.keys(next.entries[0] ?? {}).sort()).toEqual(
      expect.arrayContaining(["seq", "kind", "subject", "expiresAt", "reason", "actor", "at"]),
    );
  });
});

describe("the binary snapshot", () => {
  /** The frames of a binary snapshot: type byte, three zero bytes, uint32 LE length, payload. */
  function frames(body: Buffer): {
    ids: Map<number, string[]>;
    rows: unknown[][];
    head: Record<string, unknown>;
  } {
    const ids = new Map<number, string[]>([
      [1, []],
      [2, []],
    ]);
    const rows: unknown[][] = [];
    let head: Record<string, unknown> | undefined;
    let sizes: number[] | undefined;
    for (let at = 0; at < body.length; ) {
      const type = body[at] as number;
      const size = body.readUInt32LE(at + 4);
      const payload = body.subarray(at + 8, at + 8 + size);
      expect(head, "nothing after the head").toBeUndefined();
      if (type === 0) {
        expect(at).toBe(0); // the sizes come first
        sizes = [payload.readUInt32LE(0), payload.readUInt32LE(4)];
      } else if (type === 1 || type === 2) {
        expect(size % 24).toBe(0);
        for (let e = 0; e < size; e += 24)
          ids
            .get(type)
            ?.push(
              `${[0, 4, 8, 12].map((o) => payload.readUInt32LE(e + o)).join(".")}@${payload.readDoubleLE(e + 16)}`,
            );
      } else if (type === 3) {
        for (const line of payload.toString("utf8").split("\n"))
          if (line) rows.push(JSON.parse(line) as unknown[]);
      } else if (type === 4) head = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      else throw new Error(`unknown frame type ${type}`);
      at += 8 + size;
    }
    expect(head).toBeDefined();
    if (sizes) expect(sizes).toEqual([ids.get(1)?.length, ids.get(2)?.length]);
    return { ids, rows, head: head as Record<string, unknown> };
  }
  const words = (id: string) => {
    const w = new Uint32Array(4);
    expect(idWords(id, w)).toBe(true);
    return [...w].join(".");
  };
  const jtiOf = (token: string) =>
    (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { jti: string }).jti;

  it("comes from the node's replica with every kind of entry, and the feed resumes from its head", async () => {
    // A server of its own: the snapshot cache of the shared one holds a snapshot taken before this test.
    const own = await createServer({
      store: memoryStore(),
      port: 0,
      logger: "silent",
      scrypt: { N: 2 ** 12, r: 8, p: 1 },
    });
    const ownUrl = await own.listen();
    try {
      const secretHash = await hashSecret(SECRET, { N: 2 ** 12, r: 8, p: 1 });
      await own.store.addClient({ clientId: "rs", secretHash, createdAt: Date.now() });
      const a = await own.auth.login("bin-a");
      await own.auth.revokeAccessToken(a.accessToken);
      const b = await own.auth.login("bin-b");
      await own.auth.logout(b.sessionId);
      const c = await own.auth.login("bin-c");
      await own.auth.logoutAll("bin-c");
      await own.auth.revokeAccessToken("a-hand-typed-jti");
      const now = Date.now();
      await own.store.addRevocation({
        kind: "jti",
        subject: "key:retired-kid",
        expiresAt: now + 600_000,
        reason: "key_withdrawn",
        actor: "system",
        at: now,
      });
      await eventually(
        "the node's replica holds every entry",
        async () => own.auth.replicaSnapshot()?.rows.some((r) => r[1] === "key:retired-kid") ?? false,
      );
      const { authorization } = basicAuth("rs", SECRET);
      const res = await fetch(`${ownUrl}/oauth/revocation-feed?snapshot=true`, {
        headers: { authorization, accept: "application/vnd.revokit.snapshot; version=1" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/vnd\.revokit\.snapshot; version=1/);
      const snap = frames(Buffer.from(await res.arrayBuffer()));
      const jtis = snap.ids.get(1) ?? [];
      const sessions = snap.ids.get(2) ?? [];
      expect(jtis.map((e) => e.split("@")[0])).toContain(words(jtiOf(a.accessToken)));
      expect(sessions.map((e) => e.split("@")[0])).toContain(words(b.sessionId));
      for (const e of [...jtis, ...sessions]) expect(Number(e.split("@")[1])).toBeGreaterThan(now - 1000);
      // A user cutoff, a key withdrawal and an id that is not 128-bit travel as rows.
      expect(snap.rows).toContainEqual([
        "user",
        "bin-c",
        expect.any(Number),
        expect.objectContaining({ cutoff: expect.any(Number) }),
      ]);
      expect(snap.rows).toContainEqual(["jti", "key:retired-kid", now + 600_000]);
      expect(snap.rows).toContainEqual(["jti", "a-hand-typed-jti", expect.any(Number)]);
      expect(snap.head).toEqual({
        global_cutoff: expect.any(Number),
        cursor: expect.any(String),
        epoch: expect.any(String),
      });
      // Its head is the position after exactly these entries: what follows arrives from it.
      const d = await own.auth.login("bin-d");
      await own.auth.logout(d.sessionId);
      const next = (await (
        await fetch(
          `${ownUrl}/oauth/revocation-feed?cursor=${encodeURIComponent(String(snap.head.cursor))}&wait=2000`,
          {
            headers: { authorization },
          },
        )
      ).json()) as { entries: { kind: string; subject: string }[] };
      expect(next.entries).toContainEqual(expect.objectContaining({ kind: "session", subject: d.sessionId }));
      // A verifier loads it (binary), and refuses every grain; the text form is still served to others.
      const v = await createVerifier({
        issuer: own.issuer,
        audience: "api",
        clientId: "rs",
        clientSecret: SECRET,
        logger: quiet,
      });
      try {
        await v.ready();
        expect(await outcome(v, a.accessToken)).toBe("ERR_TOKEN_REVOKED");
        expect(await outcome(v, b.accessToken)).toBe("ERR_SESSION_REVOKED");
        expect(await outcome(v, c.accessToken)).not.toBe("valid");
        expect(await outcome(v, d.accessToken)).toBe("ERR_SESSION_REVOKED");
        expect(await outcome(v, (await own.auth.login("bin-e")).accessToken)).toBe("valid");
      } finally {
        await v.close();
      }
      const text = await fetch(`${ownUrl}/oauth/revocation-feed?snapshot=true`, {
        headers: { authorization, accept: "text/plain" },
      });
      expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
      const lines = (await text.text()).trim().split("\n");
      expect(lines).toContain(
        `jti\t${jtiOf(a.accessToken)}\t${jtis.find((e) => e.startsWith(words(jtiOf(a.accessToken))))?.split("@")[1]}`,
      );
    } finally {
      await own.close();
    }
  });
});

describe("createVerifier", () => {
  it("checks its options at once", async () => {
    const base = { issuer: server.issuer, audience: "api", clientId: "rs", clientSecret: SECRET };
    await expect(createVerifier({ ...base, maxStalness: "1s" } as never)).rejects.toThrow(TypeError);
    await expect(createVerifier({ ...base, issuer: "not a url" })).rejects.toThrow(ConfigInvalidError);
    await expect(createVerifier({ ...base, failMode: "maybe" as never })).rejects.toThrow(ConfigInvalidError);
    await expect(createVerifier({ ...base, algorithms: ["HS256"] })).rejects.toThrow(ConfigInvalidError);
    // The metadata must name the same issuer.
    await expect(createVerifier({ ...base, issuer: `${server.issuer}/other` })).rejects.toThrow();
  });

  it("sees every grain: token, session, user, global", async () => {
    const a = await server.auth.login("grains");
    const b = await server.auth.login("grains");
    const c = await server.auth.login("other");
    for (const t of [a, b, c]) expect(await outcome(verifier, t.accessToken)).toBe("valid");
    await server.auth.revokeAccessToken(a.accessToken);
    await eventually("jti", async () => (await outcome(verifier, a.accessToken)) === "ERR_TOKEN_REVOKED");
    expect(await outcome(verifier, b.accessToken)).toBe("valid");
    await server.auth.logoutAll("grains");
    await eventually("user", async () => (await outcome(verifier, b.accessToken)) === "ERR_SESSION_REVOKED");
    expect(await outcome(verifier, c.accessToken)).toBe("valid");
    await server.auth.revokeIssuedBefore(new Date(Date.now() + 1));
    await eventually("global", async () => (await outcome(verifier, c.accessToken)) === "ERR_TOKEN_REVOKED");
    await new Promise((r) => setTimeout(r, 1100));
    const d = await server.auth.login("after");
    expect(await outcome(verifier, d.accessToken)).toBe("valid");
    const status = verifier.status();
    expect(status.replica.fresh).toBe(true);
    expect(status.keys.length).toBeGreaterThan(0);
  });
});

describe("requireAuth(verifier)", () => {
  interface Running {
    url: string;
    close(): Promise<void>;
  }
  const listen = async (s: http.Server): Promise<Running> => {
    s.listen(0, "127.0.0.1");
    await once(s, "listening");
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
      close: async () => {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      },
    };
  };
  const apps: { name: string; start(v: Verifier): Promise<Running> }[] = [
    {
      name: "express",
      start(v) {
        const app = express();
        app.get("/me", expressAuth.requireAuth(v), (req, res) => {
          res.json(req.auth);
        });
        app.use(expressAuth.authErrorHandler());
        return listen(http.createServer(app));
      },
    },
    {
      name: "fastify",
      async start(v) {
        const app = Fastify();
        await app.register(fastifyAuth.revokit, { auth: v });
        app.get("/me", { preHandler: fastifyAuth.requireAuth(v) }, async (request) => request.auth);
        await app.listen({ port: 0, host: "127.0.0.1" });
        return {
          url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
          close: () => app.close(),
        };
      },
    },
    {
      name: "hono",
      start(v) {
        const app = new Hono();
        app.get("/me", honoAuth.requireAuth(v), (c) => c.json(c.get("auth")));
        return listen(createAdaptorServer({ fetch: app.fetch }) as http.Server);
      },
    },
  ];

  for (const app of apps) {
    it(`works in ${app.name}: 200, then 401 invalid_token after a logout`, async () => {
      const running = await app.start(verifier);
      try {
        const t = await server.auth.login(`mw-${app.name}`);
        const me = () =>
          fetch(`${running.url}/me`, { headers: { authorization: `Bearer ${t.accessToken}` } });
        const ok = await me();
        expect(ok.status).toBe(200);
        expect(((await ok.json()) as { sub: string }).sub).toBe(`mw-${app.name}`);
        await server.auth.logout(t.sessionId);
        await eventually("refused", async () => (await me()).status === 401);
        const refused = await me();
        expect(refused.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
      } finally {
        await running.close();
      }
    });
  }

  it("answers 503 with Retry-After when the verifier cannot prove it is current", async () => {
    const lone = await createServer({
      store: memoryStore(),
      port: 0,
      logger: "silent",
      scrypt: { N: 2 ** 12, r: 8, p: 1 },
    });
    await lone.listen();
    await lone.store.addClient({
      clientId: "rs",
      secretHash: await hashSecret(SECRET, { N: 2 ** 12, r: 8, p: 1 }),
      createdAt: Date.now(),
    });
    const v = await createVerifier({
      issuer: lone.issuer,
      audience: "api",
      clientId: "rs",
      clientSecret: SECRET,
      maxStaleness: "300ms",
      logger: quiet,
    });
    await v.ready();
    const t = await lone.auth.login("down");
    const running = await apps[0]?.start(v);
    try {
      const me = () => fetch(`${running?.url}/me`, { headers: { authorization: `Bearer ${t.accessToken}` } });
      expect((await me()).status).toBe(200);
      await lone.close();
      await eventually("503", async () => (await me()).status === 503);
      const res = await me();
      expect(res.headers.get("retry-after")).toBe("1");
      expect(await outcome(v, t.accessToken)).toBe("ERR_REVOCATION_UNAVAILABLE");
    } finally {
      await running?.close();
      await v.close();
    }
  });
});

describe("revokit/verifier", () => {
  it("loads no store driver, and a script that never closes it still ends", async () => {
    // A module hook lists every module the import resolves; the script never calls close().
    const script = `
      import { register } from "node:module";
      const seen = [];
      const { port1, port2 } = new MessageChannel();
      port1.on("message", (m) => seen.push(m));
      port1.unref();
      register("data:text/javascript,export async function initialize(p){globalThis.p=p} export async function resolve(s,c,n){const r=await n(s,c);globalThis.p.postMessage(r.url);return r}", { data: port2, transferList: [port2] });
      const m = await import("revokit/verifier");
      const env = JSON.parse(process.env.VERIFIER_TEST);
      const v = await m.createVerifier({ ...env, audience: "api", logger: { warn() {}, error() {} } });
      await v.ready();
      if (!v.status().replica.fresh) throw new Error("not fresh");
      await new Promise((r) => setTimeout(r, 100));
      console.log(JSON.stringify(seen));
    `;
    // Not execFileSync: the server this script follows runs in this process.
    const { stdout: out } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", script],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          VERIFIER_TEST: JSON.stringify({ issuer: server.issuer, clientId: "rs", clientSecret: SECRET }),
        },
        timeout: 20_000,
      },
    );
    const urls = JSON.parse(out.trim().split("\n").pop() ?? "[]") as string[];
    expect(urls.some((u) => u.includes("/dist/verifier/index.js"))).toBe(true);
    for (const driver of [
      "better-sqlite3",
      "ioredis",
      "/pg/",
      "node_modules/pg",
      "/stores/sqlite",
      "/stores/redis",
      "/stores/postgres",
      "fastify",
    ]) {
      expect(
        urls.filter((u) => u.includes(driver)),
        driver,
      ).toEqual([]);
    }
  });
});

describe("verifySync of a remote verifier", () => {
  it("a key not loaded yet: ERR_REVOCATION_UNAVAILABLE while the JWKS is read again, then valid", async () => {
    // A clock that can jump ahead: unknown key ids read the JWKS again at most every 5 s.
    let offset = 0;
    const v = await createVerifier({
      issuer: server.issuer,
      audience: "api",
      clientId: "rs",
      clientSecret: SECRET,
      maxStaleness: "30s",
      logger: quiet,
      clock: () => Date.now() + offset,
    });
    try {
      await v.ready();
      const { kid } = await server.auth.rotateKeys({ immediate: true });
      const t = await server.auth.login("rotated");
      const header = JSON.parse(Buffer.from(t.accessToken.split(".")[0] ?? "", "base64url").toString()) as {
        kid: string;
      };
      expect(header.kid).toBe(kid);
      // Keys read a moment ago: the unknown kid is refused outright, by verify and verifySync alike.
      expect(await outcome(v, t.accessToken)).toBe("ERR_TOKEN_INVALID");
      offset += 5_100;
      expect(syncOutcome(v, t.accessToken)).toBe("ERR_REVOCATION_UNAVAILABLE");
      await eventually("the new key verifies", () => syncOutcome(v, t.accessToken) === "valid");
      expect(await outcome(v, t.accessToken)).toBe("valid");
    } finally {
      await v.close();
    }
  });
});
