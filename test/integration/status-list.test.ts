/**
 * Token Status Lists: every access token carries `status.status_list {idx, uri}`; `GET uri` answers
 * a signed Status List Token, checked here by an independent decoder (a Python script using only the
 * standard library's json, base64 and zlib; python3 must exist under CI) and by jose: the token's
 * bit is 0 while it lives and 1 after each grain of revocation. Index allocation is unique across
 * store instances on every store.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeStatusList, StatusBits } from "../../src/core/status-list.js";
import { memoryStore } from "../../src/index.js";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import type { Store } from "../../src/stores/contract.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";
import { statusRegistryFor } from "../../src/stores/status/index.js";
import { ROOT } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";
import { postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const DECODER = join(ROOT, "test/fixtures/status-list-decode.py");
const hasPython = spawnSync("python3", ["--version"]).status === 0;
if (!hasPython && process.env.CI) throw new Error("python3 is required under CI for the status list test");

interface Decoded {
  typ: string;
  sub: string;
  ttl: number;
  bits: number;
  statuses: Record<string, number>;
}

async function decode(jwt: string, idx: number[]): Promise<Decoded> {
  const run = promisify(execFile)("python3", [DECODER, ...idx.map(String)], { timeout: 10_000 });
  run.child.stdin?.end(jwt);
  return JSON.parse((await run).stdout) as Decoded;
}

function statusOf(token: string): { idx: number; uri: string } {
  const claims = jose.decodeJwt(token) as { status?: { status_list?: { idx: number; uri: string } } };
  const ref = claims.status?.status_list;
  if (!ref) throw new Error("no status claim");
  return ref;
}

describe("the status list encoding", () => {
  it("packs index 0 in the least significant bit of byte 0 and deflates with a zlib header", () => {
    const bits = new StatusBits(8);
    for (const i of [0, 1, 2, 3, 5, 8, 9, 13]) bits.set(i, true);
    bits.set(15, false);
    const raw = inflateSync(Buffer.from(encodeStatusList(bits), "base64url"));
    expect([...raw]).toEqual([0b00101111, 0b00100011]);
    expect(Buffer.from(encodeStatusList(bits), "base64url")[0]).toBe(0x78); // zlib header
  });
});

describe("status lists of the server", () => {
  let server: RevokitServer;
  let url: string;
  let jwks: ReturnType<typeof jose.createLocalJWKSet>;

  beforeAll(async () => {
    server = await createServer({
      store: memoryStore(),
      port: 0,
      logger: "silent",
      scrypt: { N: 2 ** 12, r: 8, p: 1 },
    });
    url = await server.listen();
    jwks = jose.createLocalJWKSet(
      (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as jose.JSONWebKeySet,
    );
  });
  afterAll(async () => server?.close());

  const list = async (uri: string) => {
    const res = await fetch(uri);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/statuslist\+jwt/);
    const jwt = await res.text();
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, jwks, {
      typ: "statuslist+jwt",
      subject: uri,
    });
    expect(protectedHeader.typ).toBe("statuslist+jwt");
    expect(payload).toMatchObject({
      ttl: expect.any(Number),
      exp: expect.any(Number),
      iat: expect.any(Number),
    });
    return jwt;
  };

  const bit = async (token: string) => {
    const { idx, uri } = statusOf(token);
    const decoded = await decode(await list(uri), [idx]);
    expect(decoded.typ).toBe("statuslist+jwt");
    expect(decoded.sub).toBe(uri);
    expect(decoded.bits).toBe(1);
    return decoded.statuses[String(idx)];
  };

  it("gives every access token its own index, and refuses unknown lists", async (ctx) => {
    if (!hasPython) return ctx.skip("python3 is not installed");
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => server.auth.login(`idx-${i}`)));
    const refs = tokens.map((t) => statusOf(t.accessToken));
    expect(new Set(refs.map((r) => `${r.uri}#${r.idx}`)).size).toBe(20);
    expect(refs[0]?.uri).toMatch(new RegExp(`^${server.issuer}/statuslists/\\d+$`));
    expect((await fetch(`${url}/statuslists/1`)).status).toBe(404);
    expect((await fetch(`${url}/statuslists/abc`)).status).toBe(404);
    expect(await server.auth.verify(tokens[0]?.accessToken ?? "")).toMatchObject({
      status: { status_list: refs[0] },
    });
  });

  it("turns the bit to 1 for each grain: token, session, user, global", async (ctx) => {
    if (!hasPython) return ctx.skip("python3 is not installed");
    const a = await server.auth.login("grain-a");
    const b = await server.auth.login("grain-b");
    const c = await server.auth.login("grain-c");
    const d = await server.auth.login("grain-d");
    for (const t of [a, b, c, d]) expect(await bit(t.accessToken)).toBe(0);
    await server.auth.revokeAccessToken(a.accessToken);
    await eventually("token grain", async () => (await bit(a.accessToken)) === 1);
    expect(await bit(b.accessToken)).toBe(0);
    await server.auth.logout(b.sessionId);
    await eventually("session grain", async () => (await bit(b.accessToken)) === 1);
    await server.auth.logoutAll("grain-c");
    await eventually("user grain", async () => (await bit(c.accessToken)) === 1);
    expect(await bit(d.accessToken)).toBe(0);
    await server.auth.revokeIssuedBefore(new Date(Date.now() + 1));
    await eventually("global grain", async () => (await bit(d.accessToken)) === 1);
  });
});

// ---- index allocation on every store ------------------------------------------------------------

let cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const targets: { name: string; pair(): Promise<[Store, Store] | string> }[] = [
  {
    name: "sqlite",
    async pair() {
      const dir = mkdtempSync(join(tmpdir(), "revokit-status-"));
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, "auth.db");
      return [sqliteStore({ path }), sqliteStore({ path })];
    },
  },
  {
    name: "redis",
    async pair() {
      const redis = await startRedis();
      if (!redis) return redisUnavailableReason ?? "no redis";
      cleanup.push(() => redis.stop());
      return [redisStore({ url: redis.url }), redisStore({ url: redis.url })];
    },
  },
  {
    name: "postgres",
    async pair() {
      const pg = await startPostgres();
      if (!pg) return postgresUnavailableReason ?? "no postgres";
      cleanup.push(() => pg.close());
      const schema = `status_${randomBytes(5).toString("hex")}`;
      return [postgresStore({ url: pg.url, schema }), postgresStore({ url: pg.url, schema })];
    },
  },
];

for (const target of targets) {
  it(`${target.name}: two store instances allocating at once never hand out one index twice`, async (ctx) => {
    const pair = await target.pair();
    if (typeof pair === "string") return ctx.skip(pair);
    const [one, two] = pair;
    await one.open();
    await two.open();
    try {
      const [r1, r2] = [statusRegistryFor(one), statusRegistryFor(two)];
      await r1.init();
      await r2.init();
      const keep = Date.now() + 60_000;
      const list = 42;
      const token = (i: number) => ({
        jti: `j${i}`,
        sid: `s${i}`,
        sub: `u ${i}`,
        iat: 1,
        exp: 2,
        authTime: 1500 + i,
      });
      const idx = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 ? r1 : r2).allocate(list, token(i), keep)),
      );
      expect([...idx].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const entries = await r2.entries(list, -1, 1000);
      expect(entries.map((e) => e.idx)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(entries.map((e) => e.authTime - 1500).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      );
      const byIdx = new Map(idx.map((x, i) => [x, i]));
      for (const e of entries) expect(e).toMatchObject(token(byIdx.get(e.idx) as number));
      expect(await r1.entries(list + 1, -1, 10)).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });
}
