/**
 * A store URL means the same data in the library (`storeFromUrl`) and the CLI: `?prefix=` on Redis,
 * `?schema=` on PostgreSQL. An admin command pointed at a prefix or schema nobody initialised fails
 * with one line and creates nothing; `init` creates it, and the library then sees the keys.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { storeFromUrl } from "../../src/index.js";
import { runCli } from "../fixtures/server-harness.js";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const redis: RedisServer | undefined = await startRedis();
const postgres: PostgresServer | undefined = await startPostgres();
afterAll(async () => {
  await redis?.stop();
  await postgres?.stop();
});

const withParam = (url: string, name: string, value: string) =>
  `${url}${url.includes("?") ? "&" : "?"}${name}=${encodeURIComponent(value)}`;

/** One line on stderr, a non-zero exit, nothing on stdout. */
async function refused(args: string[], message: RegExp): Promise<void> {
  const r = await runCli(args);
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(r.stdout).toBe("");
}

async function keysOf(url: string): Promise<string[]> {
  const store = await storeFromUrl(url, { logger: { warn: () => undefined, error: () => undefined } });
  try {
    await store.open({ create: false });
    return (await store.listKeys()).map((k) => k.kid);
  } finally {
    await store.close();
  }
}

describe.skipIf(!redis && !process.env.CI)(`redis ?prefix= ${redisUnavailableReason ?? ""}`, () => {
  it("admin commands refuse an unused prefix and write nothing; init, the CLI and the library share one", async () => {
    if (!redis) throw new Error(redisUnavailableReason);
    const prefix = `u${randomBytes(4).toString("hex")}:`;
    const url = withParam(redis.url, "prefix", prefix);
    const client = new Redis(redis.url);
    try {
      await refused(
        ["users", "list", "--store", url],
        /no revokit store at redis 127\.0\.0\.1:\d+ with key prefix/,
      );
      await refused(["revoke", "--before", "now", "--yes", "--store", url], /nothing was created/);
      expect(await client.keys(`${prefix}*`)).toEqual([]);
      await expect(keysOf(url)).rejects.toMatchObject({ code: "ERR_STORE_MISSING" });

      expect((await runCli(["init", "--store", url])).stdout).toMatch(/created the store/);
      const kids = await keysOf(url);
      expect(kids).toHaveLength(1);
      // The same server, another prefix: another store.
      await expect(keysOf(withParam(redis.url, "prefix", `${prefix}other:`))).rejects.toMatchObject({
        code: "ERR_STORE_MISSING",
      });
      // The CLI sees what the library sees.
      const status = JSON.parse((await runCli(["status", "--json", "--store", url])).stdout) as {
        keys: { kid: string }[];
      };
      expect(status.keys.map((k) => k.kid)).toEqual(kids);
    } finally {
      client.disconnect();
    }
  });
});

describe.skipIf(!postgres && !process.env.CI)(`postgres ?schema= ${postgresUnavailableReason ?? ""}`, () => {
  it("admin commands refuse a missing schema and create none; init, the CLI and the library share one", async () => {
    if (!postgres) throw new Error(postgresUnavailableReason);
    const schema = `u_${randomBytes(4).toString("hex")}`;
    const url = withParam(postgres.url, "schema", schema);
    const schemas = async () =>
      (await postgres.sql("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema]))
        .length;
    await refused(
      ["users", "list", "--store", url],
      new RegExp(`no revokit store in postgres schema "${schema}"`),
    );
    expect(await schemas()).toBe(0);
    await expect(keysOf(url)).rejects.toMatchObject({ code: "ERR_STORE_MISSING" });

    expect((await runCli(["init", "--store", url])).stdout).toMatch(/created the store/);
    expect(await schemas()).toBe(1);
    const kids = await keysOf(url);
    expect(kids).toHaveLength(1);
    await expect(keysOf(withParam(postgres.url, "schema", `${schema}_b`))).rejects.toMatchObject({
      code: "ERR_STORE_MISSING",
    });
    const status = JSON.parse((await runCli(["status", "--json", "--store", url])).stdout) as {
      keys: { kid: string }[];
    };
    expect(status.keys.map((k) => k.kid)).toEqual(kids);
    await postgres.sql(`DROP SCHEMA "${schema}" CASCADE`);
  });
});
