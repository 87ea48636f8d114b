import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, createAuth, type TokenSet } from "../../src/auth.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";
import { type ChildNode, startChildNode } from "../fixtures/sqlite-child.js";

const ISSUER = "https://auth.test";
const AUDIENCE = "api";
/** The bound the issue sets: a revocation in one process is refused by the other within 1 s. */
const BOUND_MS = 1000;

let dir: string;
let auth: Auth;
let child: ChildNode;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "revokit-multiprocess-"));
  const path = join(dir, "shared.db");
  // Two processes, one file: this one (the sources) and a child (the built package).
  auth = await createAuth({
    issuer: ISSUER,
    audience: AUDIENCE,
    store: sqliteStore({ path }),
    refreshGrace: 0,
    logger: { warn() {}, error() {} },
  });
  child = await startChildNode();
  await child.call("start", { path, issuer: ISSUER, audience: AUDIENCE, refreshGrace: 0 });
});

afterAll(async () => {
  await child?.call("close").catch(() => undefined);
  child?.kill();
  await auth?.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Verifies here every few ms until refused; returns the error code and when it happened. */
async function verifyUntilRefused(
  token: string,
  timeoutMs: number,
): Promise<{ code: string | null; at: number }> {
  const started = Date.now();
  for (;;) {
    try {
      await auth.verify(token);
    } catch (error) {
      return { code: (error as { code?: string }).code ?? null, at: Date.now() };
    }
    if (Date.now() - started > timeoutMs) return { code: null, at: Date.now() };
    await sleep(5);
  }
}

describe("sqlite store: two processes on one file", () => {
  it("shares keys and sessions: a token from one process verifies in the other", async () => {
    const mine = await auth.login("user-shared");
    expect(await child.call("verify", { token: mine.accessToken })).toEqual({
      valid: true,
      sid: mine.sessionId,
    });
    const theirs = await child.call<TokenSet>("login", { userId: "user-shared" });
    expect((await auth.verify(theirs.accessToken)).sid).toBe(theirs.sessionId);
    expect((await auth.listSessions("user-shared")).map((s) => s.sessionId).sort()).toEqual(
      [mine.sessionId, theirs.sessionId].sort(),
    );
  });

  it("a logout here is refused by the other process within 1 s", async () => {
    const t = await auth.login("user-1");
    expect(await child.call("verify", { token: t.accessToken })).toMatchObject({ valid: true });
    const watching = child.call<{ valid: boolean; code?: string; refusedAt?: number }>("verifyUntilRefused", {
      token: t.accessToken,
      timeoutMs: 10_000,
    });
    await sleep(100);
    const revokedAt = Date.now();
    expect(await auth.logout(t.sessionId)).toBe(true);
    const seen = await watching;
    expect(seen.valid).toBe(false);
    expect(seen.code).toBe("ERR_SESSION_REVOKED");
    expect((seen.refusedAt ?? Number.POSITIVE_INFINITY) - revokedAt).toBeLessThan(BOUND_MS);
  });

  it("a jti revocation in the other process is refused here within 1 s", async () => {
    const t = await auth.login("user-2");
    await auth.verify(t.accessToken);
    const watching = verifyUntilRefused(t.accessToken, 10_000);
    await sleep(100);
    const before = Date.now();
    await child.call("revokeAccessToken", { token: t.accessToken });
    const seen = await watching;
    expect(seen.code).toBe("ERR_TOKEN_REVOKED");
    expect(seen.at - before).toBeLessThan(BOUND_MS);
    // The other sessions of the user are untouched.
    const other = await auth.login("user-2");
    expect((await auth.verify(other.accessToken)).sid).toBe(other.sessionId);
  });

  it("a logout-all in the other process revokes this process's sessions of the user within 1 s", async () => {
    const a = await auth.login("user-3");
    const b = await auth.login("user-3");
    const watching = Promise.all([
      verifyUntilRefused(a.accessToken, 10_000),
      verifyUntilRefused(b.accessToken, 10_000),
    ]);
    await sleep(100);
    const before = Date.now();
    await child.call("logoutAll", { userId: "user-3" });
    expect(await auth.listSessions("user-3")).toEqual([]);
    for (const seen of await watching) {
      expect(seen.code).toBe("ERR_SESSION_REVOKED");
      expect(seen.at - before).toBeLessThan(BOUND_MS);
    }
    await expect(auth.refresh(a.refreshToken)).rejects.toMatchObject({ code: "ERR_REFRESH_INVALID" });
  });

  it("of 2 x 20 refreshes of one token fired at once from both processes, exactly one wins", async () => {
    const t = await auth.login("user-4");
    const at = Date.now() + 300;
    const theirs = child.call<{ results: string[] }>("refreshMany", { token: t.refreshToken, n: 20, at });
    while (Date.now() < at) await sleep(1);
    const mine = await Promise.all(
      Array.from({ length: 20 }, () =>
        auth.refresh(t.refreshToken).then(
          () => "rotated",
          (error: { code?: string }) => error.code ?? "unknown",
        ),
      ),
    );
    const all = [...mine, ...(await theirs).results];
    expect(all).toHaveLength(40);
    expect(all.filter((r) => r === "rotated")).toHaveLength(1);
    for (const r of all) expect(["rotated", "ERR_REFRESH_REUSED", "ERR_REFRESH_INVALID"]).toContain(r);
    expect(all).toContain("ERR_REFRESH_REUSED");
    // Reuse revoked the session in both processes.
    await expect(auth.verify(t.accessToken, { strict: true })).rejects.toMatchObject({
      code: "ERR_SESSION_REVOKED",
    });
    expect(await child.call("verify", { token: t.accessToken, strict: true })).toEqual({
      valid: false,
      code: "ERR_SESSION_REVOKED",
    });
  });
});
