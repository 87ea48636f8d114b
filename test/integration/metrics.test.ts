/**
 * Observability for library users and for the server: collectMetrics exposes an Auth through
 * prom-client (a registry the app can merge), revocations arriving from other nodes are counted and
 * their propagation lag recorded, every metric is documented, and the server logs one line per
 * request with the route pattern, never the URL.
 */
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { collectMetrics, createAuth, memoryStore } from "../../src/index.js";
import { hashClientSecret } from "../../src/server/clients.js";
import { createServer } from "../../src/server/index.js";
import { createLogger } from "../../src/server/logger.js";
import { ServerMetrics, serverRegistry } from "../../src/server/metrics.js";
import { eventually } from "../helpers/eventually.js";
import { faultyStore } from "../helpers/faulty-store.js";

const ISSUER = "https://auth.example.com";
const docs = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");

describe("collectMetrics", () => {
  it("registers on the app's registry, reads the Auth at scrape time, and takes a prefix", async () => {
    const auth = await createAuth({ issuer: ISSUER, audience: "api", store: memoryStore() });
    try {
      const registry = new Registry();
      expect(collectMetrics(auth, { registry })).toBe(registry);
      const t = await auth.login("u1");
      await auth.verify(t.accessToken);
      await auth.verify(t.accessToken);
      await auth.logout(t.sessionId);
      await expect(auth.verify(t.accessToken)).rejects.toMatchObject({ code: "ERR_SESSION_REVOKED" });
      const text = await registry.metrics();
      expect(text).toMatch(/^revokit_verify_total\{result="valid"\} 2$/m);
      expect(text).toMatch(/^revokit_verify_total\{result="revoked_session"\} 1$/m);
      expect(text).toMatch(/^revokit_revocations_total\{grain="session",reason="logout"\} 1$/m);
      expect(text).toMatch(/^revokit_sessions_created_total 1$/m);

      const other = collectMetrics(auth, { prefix: "tenant_a_" });
      const merged = Registry.merge([registry, other]);
      const names = (await merged.getMetricsAsJSON()).map((m) => m.name);
      expect(names).toContain("revokit_verify_total");
      expect(names).toContain("tenant_a_verify_total");
      expect(() => collectMetrics(auth, { regsitry: registry } as never)).toThrow(TypeError);
    } finally {
      await auth.close();
    }
  });

  it("counts revocations from other nodes and records their propagation lag; its own are not counted", async () => {
    const store = memoryStore();
    const a = await createAuth({ issuer: ISSUER, audience: "api", store });
    const b = await createAuth({ issuer: ISSUER, audience: "api", store });
    try {
      await a.ready();
      await b.ready();
      const ra = collectMetrics(a);
      const rb = collectMetrics(b);
      const t = await b.login("u2");
      await a.logout(t.sessionId); // revoked on node a, must reach node b through the feed
      await eventually(
        "b to receive",
        async () => (await rb.metrics()).includes('revokit_revocations_received_total{kind="session"} 1'),
        5000,
      );
      const textB = await rb.metrics();
      expect(textB).toMatch(/^revokit_revocation_propagation_seconds_count 1$/m);
      expect(textB).toMatch(/^revokit_revocation_propagation_seconds_bucket\{le="10"\} 1$/m);
      await expect(b.verify(t.accessToken)).rejects.toMatchObject({ code: "ERR_SESSION_REVOKED" });
      // Node a's own revocation came back on its feed too, and is not counted as received.
      await new Promise((r) => setTimeout(r, 100));
      const textA = await ra.metrics();
      expect(textA).not.toMatch(/^revokit_revocations_received_total\{/m);
      expect(textA).toMatch(/^revokit_revocation_propagation_seconds_count 0$/m);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("every metric the server exposes is documented in docs/metrics.md", async () => {
    const auth = await createAuth({ issuer: ISSUER, audience: "api", store: memoryStore() });
    try {
      const names = (await serverRegistry(auth, new ServerMetrics()).getMetricsAsJSON()).map((m) => m.name);
      const ours = names.filter((n) => !/^(process_|nodejs_)/.test(n));
      expect(ours.length).toBeGreaterThan(20);
      for (const name of ours) expect(docs, name).toContain(`\`${name}\``);
      expect(names).toContain("process_start_time_seconds");
    } finally {
      await auth.close();
    }
  });
});

describe("request logging", () => {
  async function logsOf(logRequests: "all" | "errors" | "off" | undefined) {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const server = await createServer({
      store: memoryStore(),
      port: 0,
      logger: createLogger("info", sink),
      scrypt: { N: 2 ** 12, r: 8, p: 1 },
      ...(logRequests ? { logRequests } : {}),
    });
    const url = await server.listen();
    const body = JSON.stringify({ username: "logme", password: "a long enough password" });
    const headers = { "content-type": "application/json" };
    await fetch(`${url}/auth/register`, { method: "POST", headers, body });
    const t = (await (await fetch(`${url}/auth/login`, { method: "POST", headers, body })).json()) as {
      access_token: string;
    };
    const me = await fetch(`${url}/auth/me?access_token=${t.access_token}&x=secret-query`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(me.status).toBe(200);
    await server.close();
    return { lines, token: t.access_token };
  }

  it("one info line per request: request id, method, route pattern, status, ms; no URL, query or token", async () => {
    const { lines, token } = await logsOf(undefined);
    const requests = lines.filter((l) => l.msg === "request completed");
    expect(lines.filter((l) => l.msg === "incoming request")).toEqual([]);
    expect(requests.map((l) => l.route)).toEqual(["/auth/register", "/auth/login", "/auth/me"]);
    const me = requests[2] as Record<string, unknown>;
    expect(me).toMatchObject({ level: 30, method: "GET", route: "/auth/me", status: 200 });
    expect(me.ms).toBeTypeOf("number");
    expect(me.reqId).toBeTypeOf("string");
    const text = JSON.stringify(lines);
    expect(text).not.toContain(token);
    expect(text).not.toContain("secret-query");
  });

  it("logRequests: errors logs only 5xx answers, off logs none", async () => {
    for (const mode of ["errors", "off"] as const) {
      const { lines } = await logsOf(mode);
      expect(lines.filter((l) => l.msg === "request completed")).toEqual([]);
    }
    await expect(createServer({ store: memoryStore(), logRequests: "some" as never })).rejects.toThrow(
      /logRequests/,
    );
  });
});

describe("background failures", () => {
  it("are logged with their task (never a driver's message) and counted by task", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const store = faultyStore(memoryStore());
    const server = await createServer({
      store,
      port: 0,
      logger: createLogger("info", sink),
      logRequests: "off",
    });
    try {
      const url = await server.listen();
      await server.store.addClient({
        clientId: "rs",
        secretHash: hashClientSecret("s3cret"),
        createdAt: Date.now(),
      });
      const basic = `Basic ${Buffer.from("rs:s3cret").toString("base64")}`;
      // A first read starts the feed's loop; then the store goes down under it.
      const first = await fetch(`${url}/oauth/revocation-feed?cursor=&wait=0`, {
        headers: { authorization: basic },
      });
      expect(first.status).toBe(200);
      store.down = true;
      const metric = /^revokit_background_failures_total\{task="revocation_feed"\} (\d+)$/m;
      const failures = async () =>
        Number(metric.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
      await eventually("the feed's failures to be counted", async () => (await failures()) >= 3);
      store.down = false;
      await eventually("the recovery", () => lines.some((l) => l.msg === "revocation_feed: working again"));
      const logged = lines.filter((l) => l.task === "revocation_feed" && l.level === 40);
      // Counted each time, logged once: the repeats of one failure are not logged again.
      expect(logged).toEqual([
        expect.objectContaining({ err: "Error", msg: expect.stringContaining("revocation feed") }),
      ]);
      expect(JSON.stringify(lines)).not.toContain("ECONNREFUSED (simulated outage)");
    } finally {
      await server.close();
    }
  });
});
