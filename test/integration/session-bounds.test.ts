/**
 * Sessions belong to one issuer, audience and client, and a user has at most `maxSessionsPerUser` of
 * them (past it, the oldest ends, recorded as a revocation). Also the library's `authenticatedAt`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Auth, type AuthOptions, createAuth, memoryStore, type Store } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";

const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

async function make(options: Partial<AuthOptions> & { store?: Store } = {}) {
  const clock = options.clock ?? testClock();
  const store = options.store ?? memoryStore();
  const auth = await createAuth({ issuer: "https://issuer.test", audience: "api", clock, ...options, store });
  opened.push(auth);
  return { auth, store };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "accepted";
};

describe("sessions are bound to their issuer, audience and client", () => {
  it("an Auth of another audience or issuer on the same store cannot redeem or inspect the refresh token", async () => {
    const store = memoryStore();
    const clock = testClock();
    const { auth: api } = await make({ store, clock });
    const { auth: admin } = await make({ store, clock, audience: "admin" });
    const { auth: other } = await make({ store, clock, issuer: "https://other.test" });
    const t = await api.login("alice");
    expect(await code(admin.refresh(t.refreshToken))).toBe("ERR_REFRESH_INVALID");
    expect(await code(other.refresh(t.refreshToken))).toBe("ERR_REFRESH_INVALID");
    expect(await admin.inspectRefreshToken(t.refreshToken)).toBeNull();
    // Nothing changed: the owner still rotates it, and it was no reuse.
    const next = await api.refresh(t.refreshToken);
    await expect(api.verify(next.accessToken)).resolves.toMatchObject({ sid: t.sessionId });
  });

  it("a refresh for another client is refused", async () => {
    const { auth } = await make();
    const t = await auth.login("alice", { clientId: "mobile" });
    expect(await code(auth.refresh(t.refreshToken, { clientId: "default" }))).toBe("ERR_REFRESH_INVALID");
    await expect(auth.refresh(t.refreshToken, { clientId: "mobile" })).resolves.toBeTruthy();
  });
});

describe("sessions per user are capped", () => {
  it("past the cap, a login ends the oldest session, recorded with reason session_limit", async () => {
    const clock = testClock();
    const { auth, store } = await make({ clock, maxSessionsPerUser: 3 });
    const sets = [];
    for (let i = 0; i < 3; i++) {
      sets.push(await auth.login("alice"));
      clock.advance(1000);
    }
    const { cursor } = await store.snapshot(clock());
    const fourth = await auth.login("alice");
    const live = (await auth.listSessions("alice")).map((s) => s.sessionId);
    expect(live.sort()).toEqual([sets[1], sets[2], fourth].map((t) => t?.sessionId).sort());
    expect(await code(auth.verify(sets[0]?.accessToken as string))).toBe("ERR_SESSION_REVOKED");
    const { entries } = await store.changes(cursor, { waitMs: 0, limit: 10 });
    expect(entries.map((e) => [e.kind, e.subject, e.reason])).toEqual([
      ["session", sets[0]?.sessionId, "session_limit"],
    ]);
    // Another user's sessions do not count.
    await auth.login("bob");
    expect(await auth.listSessions("alice")).toHaveLength(3);
  });

  it("defaults to 100 and refuses a nonsensical cap", async () => {
    await expect(make({ maxSessionsPerUser: 0 })).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    const { auth } = await make();
    for (let i = 0; i < 101; i++) await auth.login("carol");
    expect(await auth.listSessions("carol")).toHaveLength(100);
  });
});

describe("login takes the moment the credentials were checked", () => {
  it("refuses a login checked before a logout-all with ERR_LOGIN_STALE, creating nothing", async () => {
    const clock = testClock();
    const { auth } = await make({ clock });
    const checkedAt = clock();
    clock.advance(50);
    await auth.logoutAll("dave");
    expect(await code(auth.login("dave", { authenticatedAt: new Date(checkedAt) }))).toBe("ERR_LOGIN_STALE");
    expect(await auth.listSessions("dave")).toEqual([]);
    clock.advance(1);
    await expect(auth.login("dave", { authenticatedAt: clock() })).resolves.toBeTruthy();
    // Right after, in the same millisecond, with the default (now): works too.
    await auth.logoutAll("dave");
    await expect(auth.login("dave")).resolves.toBeTruthy();
  });

  it("refuses an authenticatedAt in the future or not a time", async () => {
    const clock = testClock();
    const { auth } = await make({ clock });
    await expect(auth.login("erin", { authenticatedAt: clock() + 60_000 })).rejects.toThrow(TypeError);
    await expect(auth.login("erin", { authenticatedAt: new Date(Number.NaN) })).rejects.toThrow(TypeError);
  });
});

describe("the server's session cap", () => {
  it("revokit serve --max-sessions-per-user 2: a third login ends the oldest device", async () => {
    const { startServe } = await import("../fixtures/server-harness.js");
    const server = await startServe(["--store", "memory:", "--max-sessions-per-user", "2"]);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${server.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const creds = { username: "capped", password: "a long password" };
      expect((await post("/auth/register", creds)).status).toBe(201);
      const logins: { access_token: string; session_id: string }[] = [];
      for (let i = 0; i < 3; i++) logins.push(await (await post("/auth/login", creds)).json());
      const me = (t: string) => fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${t}` } });
      const newest = logins[2]?.access_token as string;
      const listed = (await (
        await fetch(`${server.url}/auth/sessions`, { headers: { authorization: `Bearer ${newest}` } })
      ).json()) as { sessions: { session_id: string }[] };
      expect(listed.sessions.map((s) => s.session_id).sort()).toEqual(
        [logins[1]?.session_id, logins[2]?.session_id].sort(),
      );
      expect((await me(logins[0]?.access_token as string)).status).toBe(401);
      expect((await me(newest)).status).toBe(200);
    } finally {
      await server.stop();
    }
  }, 30_000);

  it("refuses a cap that is not a positive integer, with one line", async () => {
    const { runCli } = await import("../fixtures/server-harness.js");
    const r = await runCli(["serve", "--store", "memory:", "--max-sessions-per-user", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-sessions-per-user must be an integer from 1 to 1000000/);
  });
});
