import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../../src/auth.js";
import { SQLITE_SCHEMA_VERSION, sqliteStore } from "../../src/stores/sqlite/index.js";
import { ROOT, startChildNode } from "../fixtures/sqlite-child.js";

const ISSUER = "https://auth.test";
const AUDIENCE = "api";
const silent = { warn() {}, error() {} };

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "revokit-durability-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sqlite store: restart", () => {
  it("still refuses a revoked session and a revoked jti after the file is reopened by a new process", async () => {
    const path = join(dir, "restart", "auth.db");
    let auth: Auth | undefined = await createAuth({
      issuer: ISSUER,
      audience: AUDIENCE,
      store: sqliteStore({ path }),
      logger: silent,
    });
    const revokedJti = await auth.login("user-a");
    const revokedSession = await auth.login("user-b");
    const live = await auth.login("user-c");
    await auth.revokeAccessToken(revokedJti.accessToken);
    expect(await auth.logout(revokedSession.sessionId)).toBe(true);
    await expect(auth.verify(revokedJti.accessToken)).rejects.toMatchObject({ code: "ERR_TOKEN_REVOKED" });
    await auth.close();
    auth = undefined;

    const child = await startChildNode();
    try {
      await child.call("start", { path, issuer: ISSUER, audience: AUDIENCE });
      for (const strict of [false, true]) {
        expect(await child.call("verify", { token: revokedJti.accessToken, strict })).toEqual({
          valid: false,
          code: "ERR_TOKEN_REVOKED",
        });
        expect(await child.call("verify", { token: revokedSession.accessToken, strict })).toEqual({
          valid: false,
          code: "ERR_SESSION_REVOKED",
        });
        // The keys survived too: the live token still verifies in the new process.
        expect(await child.call("verify", { token: live.accessToken, strict })).toEqual({
          valid: true,
          sid: live.sessionId,
        });
      }
      expect(await child.call("refresh", { token: revokedSession.refreshToken })).toEqual({
        ok: false,
        code: "ERR_REFRESH_INVALID",
      });
      expect(await child.call("refresh", { token: live.refreshToken })).toMatchObject({ ok: true });
      await child.call("close");
    } finally {
      child.kill();
    }
  });

  it("keeps its epoch, its schema version and its data across reopen", async () => {
    const path = join(dir, "epoch.db");
    const first = sqliteStore({ path });
    await first.open();
    const { epoch } = await first.snapshot(Date.now());
    await first.addRevocation({
      kind: "global",
      subject: "",
      cutoff: 1000,
      expiresAt: 2000,
      reason: "r",
      actor: "a",
      at: 1,
    });
    await first.close();
    const second = sqliteStore({ path });
    await second.open();
    const snap = await second.snapshot(Date.now());
    expect(snap.epoch).toBe(epoch);
    expect(snap.globalCutoff).toBe(1000);
    await second.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
  });

  it("refuses to open a file written by a newer schema, with ERR_STORE_UNAVAILABLE", async () => {
    const path = join(dir, "future.db");
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    await expect(sqliteStore({ path }).open()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
  });

  it("gives a new epoch when the file is lost, so replicas notice the data loss", async () => {
    const path = join(dir, "lost", "auth.db");
    const a = sqliteStore({ path });
    await a.open();
    const before = (await a.snapshot(0)).epoch;
    await a.close();
    await rm(join(dir, "lost"), { recursive: true, force: true });
    const b = sqliteStore({ path });
    await b.open();
    expect((await b.snapshot(0)).epoch).not.toBe(before);
    await b.close();
  });
});

/** Runs the writer fixture until it has acknowledged `minAcks` writes, then SIGKILLs it mid-stream. */
async function writeThenKill(path: string, prefix: string, minAcks: number): Promise<string[]> {
  const child = spawn(process.execPath, [join(ROOT, "test/fixtures/sqlite-writer.mjs"), path, prefix], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acks: string[] = [];
  let buffer = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line !== "ready") acks.push(line);
      if (acks.length >= minAcks) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", () => reject(new Error(`writer exited before ${minAcks} acks: ${stderr}`)));
  });
  expect(await exited).toBe("SIGKILL");
  // Lines that arrived between the kill and the pipe closing were acknowledged too.
  await new Promise<void>((resolve) =>
    child.stdout.readableEnded ? resolve() : child.stdout.on("end", resolve),
  );
  for (const line of buffer.split("\n")) if (line && line !== "ready") acks.push(line);
  return acks;
}

describe("sqlite store: crash", () => {
  it("reopens consistent after SIGKILL mid-writes, with every acknowledged revocation in it", async () => {
    const path = join(dir, "crash", "auth.db");
    const allAcks: string[] = [];
    for (const [round, minAcks] of [150, 60, 230].entries()) {
      const acks = await writeThenKill(path, `r${round}`, minAcks);
      expect(acks.length).toBeGreaterThanOrEqual(minAcks);
      allAcks.push(...acks);

      const db = new Database(path);
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
        // A user-wide revocation is one row and its feed entry, committed together or not at all.
        const orphans = db
          .prepare(
            `SELECT c.user_id FROM user_cutoffs c
             WHERE NOT EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'user' AND r.subject = c.user_id)`,
          )
          .all();
        expect(orphans).toEqual([]);
      } finally {
        db.close();
      }

      const store = sqliteStore({ path });
      await store.open();
      try {
        const now = Date.now();
        for (const line of allAcks) {
          const [kind, id, n] = line.split(" ") as [string, string, string | undefined];
          if (kind === "jti") {
            expect((await store.check({ jti: id }, now)).jtiRevoked, line).toBe(true);
          } else if (kind === "session") {
            expect((await store.check({ sessionId: id }, now)).sessionRevoked, line).toBe(true);
          } else {
            expect(kind).toBe("user");
            expect(n).toBe("20");
            expect(await store.listUserSessions(id, now), line).toEqual([]);
          }
        }
        // The change feed holds them too, in one gap-free order a replica can follow.
        const snap = await store.snapshot(now);
        const active = new Set(snap.entries.map((e) => e.subject));
        for (const line of allAcks) {
          const [kind, id] = line.split(" ") as [string, string];
          if (kind !== "user") expect(active.has(id), line).toBe(true);
        }
      } finally {
        await store.close();
      }
    }
  });
});
