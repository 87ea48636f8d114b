/**
 * The server's pure parts: `--store` URLs, client credentials in Basic headers, form bodies, the
 * scrypt encoding, the Prometheus exposition of label values, how background failures are reported,
 * and the store `createServer` requires next to an existing `Auth`.
 */
import { describe, expect, it } from "vitest";
import { createAuth, memoryStore } from "../../src/index.js";
import { parseBasic } from "../../src/server/clients.js";
import { FailureLog } from "../../src/server/failures.js";
import { createServer } from "../../src/server/index.js";
import { renderMetrics, ServerMetrics } from "../../src/server/metrics.js";
import { parseForm } from "../../src/server/parsers.js";
import { hashSecret, verifySecret } from "../../src/server/passwords.js";
import { parseStoreUrl, redactStoreUrl, storeFromUrl } from "../../src/stores/url.js";

describe("parseStoreUrl", () => {
  it.each([
    ["sqlite:./data/revokit.db", { kind: "sqlite", path: "./data/revokit.db" }],
    ["sqlite:/var/lib/auth.db", { kind: "sqlite", path: "/var/lib/auth.db" }],
    ["sqlite:///var/lib/auth.db", { kind: "sqlite", path: "/var/lib/auth.db" }],
    ["SQLITE:x.db", { kind: "sqlite", path: "x.db" }],
    ["memory:", { kind: "memory" }],
    ["redis://127.0.0.1:6379", { kind: "redis", url: "redis://127.0.0.1:6379" }],
    ["rediss://:pw@cache:6380/2", { kind: "redis", url: "rediss://:pw@cache:6380/2" }],
    ["redis://h:6379/0?prefix=app1:", { kind: "redis", url: "redis://h:6379/0", prefix: "app1:" }],
    ["postgres://u:p@db/auth", { kind: "postgres", url: "postgres://u:p@db/auth" }],
    [
      "postgresql://u@db/auth?schema=tenant_a&sslmode=require",
      { kind: "postgres", url: "postgresql://u@db/auth?sslmode=require", schema: "tenant_a" },
    ],
  ])("%s", (input, expected) => {
    expect(parseStoreUrl(input)).toEqual(expected);
  });

  it.each(["", "sqlite:", "mysql://db", "memory:extra", "redis://a b", "./auth.db", "postgres://db?schema="])(
    "refuses %j with ERR_CONFIG_INVALID naming the store",
    (input) => {
      expect(() => parseStoreUrl(input)).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID", option: "store" }),
      );
    },
  );

  it("redacts passwords for logs", () => {
    expect(redactStoreUrl("redis://:hunter2@cache:6379/0")).toBe("redis://:***@cache:6379/0");
    expect(redactStoreUrl("postgres://u:hunter2@db/x?password=hunter2")).not.toContain("hunter2");
    expect(redactStoreUrl("sqlite:./a.db")).toBe("sqlite:./a.db");
    expect(redactStoreUrl("nonsense")).toBe("(invalid store URL)");
  });

  it("creates a memory store", async () => {
    expect((await storeFromUrl("memory:")).kind).toBe("memory");
  });
});

describe("parseBasic", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  it("form-decodes id and secret (RFC 6749 §2.3.1)", () => {
    expect(parseBasic(`Basic ${b64("my%3Aclient:a+b%25c")}`)).toEqual({ id: "my:client", secret: "a b%c" });
    expect(parseBasic(`basic   ${b64("id:")}`)).toEqual({ id: "id", secret: "" });
  });
  it.each([
    "Bearer abc",
    "Basic",
    "Basic !!!",
    `Basic ${b64("nocolon")}`,
    `Basic ${b64(":secret")}`,
    `Basic ${b64("id:%zz")}`,
  ])("refuses %j", (header) => {
    expect(parseBasic(header)).toBeNull();
  });
});

describe("parseForm", () => {
  it("decodes, drops empty values, refuses repeated parameters", () => {
    expect({ ...parseForm("a=1&b=x+y%21&c=") }).toEqual({ a: "1", b: "x y!" });
    expect(() => parseForm("a=1&a=2")).toThrow(
      expect.objectContaining({ status: 400, code: "invalid_request" }),
    );
    expect(() => parseForm("a=&a=")).toThrow(expect.objectContaining({ code: "invalid_request" }));
    expect(Object.getPrototypeOf(parseForm("__proto__=x"))).toBeNull();
  });
});

describe("scrypt secrets", () => {
  const cheap = { N: 2 ** 10, r: 8, p: 1 };
  it("round-trips, salts, normalizes, and flags weaker parameters for rehashing", async () => {
    const a = await hashSecret("pässword", cheap);
    const b = await hashSecret("pässword", cheap);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifySecret("pässword", a, cheap)).toEqual({ ok: true, rehash: false });
    expect(await verifySecret("pa\u0308ssword", a, cheap)).toEqual({ ok: true, rehash: false });
    expect(await verifySecret("password", a, cheap)).toEqual({ ok: false, rehash: false });
    expect(await verifySecret("pässword", a, { N: 2 ** 11, r: 8, p: 1 })).toEqual({ ok: true, rehash: true });
  });
  it.each([
    "",
    "plain",
    "scrypt$3$8$1$c2FsdHNhbHQ$AAAA",
    "scrypt$2097152$8$1$c2FsdHNhbHQ$" + "A".repeat(43),
    "bcrypt$x",
  ])("never matches the malformed encoding %j", async (encoded) => {
    expect((await verifySecret("anything", encoded, cheap)).ok).toBe(false);
  });
});

describe("renderMetrics", () => {
  it("escapes label values", async () => {
    const auth = await createAuth({ issuer: "https://a.test", audience: "api", store: memoryStore() });
    try {
      auth.metrics.count(auth.metrics.revocations, 'jti|odd "reason"\\\nx');
      const text = await renderMetrics(auth, new ServerMetrics());
      expect(text).toContain('revokit_revocations_total{grain="jti",reason="odd \\"reason\\"\\\\\\nx"} 1');
      expect(text.endsWith("\n")).toBe(true);
    } finally {
      await auth.close();
    }
  });
});

describe("FailureLog", () => {
  it("counts every failure, logs a repeat only when it changes, and logs the recovery", () => {
    const lines: [string, Record<string, unknown>, string | undefined][] = [];
    const log = {
      info: (o: object, m?: string) => lines.push(["info", o as Record<string, unknown>, m]),
      warn: (o: object, m?: string) => lines.push(["warn", o as Record<string, unknown>, m]),
      error: (o: object, m?: string) => lines.push(["error", o as Record<string, unknown>, m]),
    };
    let counted = 0;
    const failures = new FailureLog(log, "feed", "feed: read failed", () => counted++);
    const driverError = Object.assign(new Error("password=hunter2 at 10.0.0.1"), { code: "ECONNREFUSED" });
    failures.failed(driverError, { node: 1 });
    failures.failed(driverError, { node: 1 });
    failures.failed(new Error("other"));
    failures.recovered();
    failures.recovered();
    expect(counted).toBe(3);
    expect(lines).toEqual([
      ["warn", { task: "feed", node: 1, err: "Error (ECONNREFUSED)" }, "feed: read failed"],
      ["warn", { task: "feed", err: "Error" }, "feed: read failed"],
      ["info", { task: "feed" }, "feed: working again"],
    ]);
    expect(JSON.stringify(lines)).not.toContain("hunter2");
  });

  it("keeps one streak per key", () => {
    const lines: Record<string, unknown>[] = [];
    const log = { warn: (o: object) => lines.push(o as Record<string, unknown>), error: () => undefined };
    const failures = new FailureLog(log, "delivery", "delivery failed");
    failures.failed("HTTP 503", { clientId: "a" }, "a");
    failures.failed("HTTP 503", { clientId: "b" }, "b");
    failures.failed("HTTP 503", { clientId: "a" }, "a");
    expect(lines).toEqual([
      { task: "delivery", clientId: "a", err: "HTTP 503" },
      { task: "delivery", clientId: "b", err: "HTTP 503" },
    ]);
  });
});

describe("createServer with an Auth", () => {
  it("requires the Auth's store as `store`", async () => {
    const store = memoryStore();
    const auth = await createAuth({ issuer: "https://a.test", audience: "api", store });
    try {
      const message = "createServer: pass the store the Auth was created with as `store`";
      await expect(createServer({ auth, logger: "silent" })).rejects.toThrow(new TypeError(message));
      await expect(createServer({ auth, store: "memory:", logger: "silent" })).rejects.toThrow(
        new TypeError(message),
      );
      const server = await createServer({ auth, store, port: 0, logger: "silent" });
      expect(server.store).toBe(store);
      await server.close();
    } finally {
      await auth.close();
    }
  });
});
