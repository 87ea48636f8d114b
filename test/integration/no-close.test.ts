/**
 * A library script that never calls `close()` ends by itself with every store: background timers,
 * idle connections and the replica's long poll do not hold the process open.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const SCRIPT = new URL("../fixtures/no-close.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "revokit-no-close-"));
const redis: RedisServer | undefined = await startRedis();
const postgres: PostgresServer | undefined = await startPostgres();
afterAll(async () => {
  await redis?.stop();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script; resolves with its exit code, or "still running" after `limitMs`. */
function run(
  url: string,
  limitMs = 20_000,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, url], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: "still running", stdout, stderr });
    }, limitMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? "killed", stdout, stderr });
    });
  });
}

const stores: [string, () => string | undefined, string | undefined][] = [
  ["memory", () => "memory:", undefined],
  ["sqlite", () => `sqlite:${join(dir, "auth.db")}`, undefined],
  [
    "redis",
    () => (redis ? `${redis.url}?prefix=nc${randomBytes(4).toString("hex")}:` : undefined),
    redisUnavailableReason,
  ],
  [
    "postgres",
    () =>
      postgres
        ? `${postgres.url}${postgres.url.includes("?") ? "&" : "?"}schema=nc_${randomBytes(4).toString("hex")}`
        : undefined,
    postgresUnavailableReason,
  ],
];

describe("a script that never calls close() ends by itself", () => {
  it.each(stores)("%s", async (_name, url, unavailable) => {
    const target = url();
    if (target === undefined) {
      if (process.env.CI) throw new Error(unavailable);
      return;
    }
    const result = await run(target);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("done\n");
    expect(result.code).toBe(0);
  });
});
