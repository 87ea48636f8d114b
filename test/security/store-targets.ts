/**
 * The stores the security suites run on: memory, SQLite (one file, one store instance per node, as
 * separate processes would have), PostgreSQL (a private cluster or `DATABASE_URL`) and Redis (a private
 * `redis-server`). A missing server binary skips its store outside CI and fails the run under `CI`
 * (the harnesses throw).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Auth, type AuthOptions, createAuth, memoryStore, type Store } from "../../src/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

/** A store kind under test: makes `n` store instances over one shared data set. */
export interface StoreTarget {
  name: string;
  /** `n` stores over the same (fresh) data, one per node, and a clean-up for after the nodes closed. */
  open(n: number): Promise<{ stores: Store[]; cleanup: () => Promise<void> }>;
  /** Stops any server the target started. */
  close(): Promise<void>;
}

/** A store kind that cannot run here, and why (skipped outside CI; the harness threw under CI). */
export interface MissingTarget {
  name: string;
  reason: string;
}

const memoryTarget: StoreTarget = {
  name: "memory",
  async open(n) {
    const store = memoryStore();
    return { stores: Array.from({ length: n }, () => store), cleanup: async () => {} };
  },
  async close() {},
};

const sqliteTarget: StoreTarget = {
  name: "sqlite",
  async open(n) {
    const dir = await mkdtemp(join(tmpdir(), "revokit-sec-"));
    const path = join(dir, "auth.db");
    return {
      stores: Array.from({ length: n }, () => sqliteStore({ path, pollInterval: "5ms", purgeInterval: 0 })),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  async close() {},
};

function postgresTarget(server: PostgresServer): StoreTarget {
  return {
    name: "postgres",
    async open(n) {
      const schema = `sec_${randomBytes(6).toString("hex")}`;
      return {
        stores: Array.from({ length: n }, () =>
          postgresStore({ url: server.url, schema, purgeInterval: 0, max: 6 }),
        ),
        cleanup: async () => {
          await server.sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    },
    close: () => server.close(),
  };
}

function redisTarget(server: RedisServer): StoreTarget {
  const quiet = { warn: () => {}, error: () => {} }; // "persistence is off" is expected on this throwaway server
  return {
    name: "redis",
    async open(n) {
      const prefix = `sec-${randomBytes(6).toString("hex")}:`;
      return {
        stores: Array.from({ length: n }, () => redisStore({ url: server.url }, { prefix, logger: quiet })),
        cleanup: async () => {},
      };
    },
    close: () => server.stop(),
  };
}

/** Every store target available here, and the ones that are not (with the reason). */
export async function storeTargets(): Promise<{ targets: StoreTarget[]; missing: MissingTarget[] }> {
  const targets: StoreTarget[] = [memoryTarget, sqliteTarget];
  const missing: MissingTarget[] = [];
  const pg = await startPostgres();
  if (pg) targets.push(postgresTarget(pg));
  else missing.push({ name: "postgres", reason: postgresUnavailableReason ?? "no PostgreSQL" });
  const redis = await startRedis();
  if (redis) targets.push(redisTarget(redis));
  else missing.push({ name: "redis", reason: redisUnavailableReason ?? "no Redis" });
  return { targets, missing };
}

/** `n` nodes (Auth instances) on one target's data, each on its own store instance (`stores[i]` is node i's). */
export async function openNodes(
  target: StoreTarget,
  n: number,
  options: Partial<AuthOptions> = {},
): Promise<{ nodes: Auth[]; stores: Store[]; close: () => Promise<void> }> {
  const { stores, cleanup } = await target.open(n);
  const nodes: Auth[] = [];
  try {
    // Sequentially: the first start creates the signing key that the others load.
    for (const store of stores) {
      nodes.push(
        await createAuth({
          issuer: "https://issuer.security",
          audience: "api",
          store,
          maxStaleness: "1s",
          purgeInterval: 0,
          ...options,
        }),
      );
    }
  } catch (error) {
    await Promise.all(nodes.map((a) => a.close()));
    await cleanup();
    throw error;
  }
  return {
    nodes,
    stores,
    close: async () => {
      await Promise.all(nodes.map((a) => a.close()));
      await cleanup();
    },
  };
}

/** The code of a rejection, or `"accepted"`. Anything that is not an `AuthError` is rethrown. */
export async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "accepted";
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("ERR_")) throw error;
    return code;
  }
}

/** Polls until `probe` is true; fails after `boundMs` naming `what`. Returns the time it took. */
export async function within(what: string, boundMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > boundMs) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
