/**
 * Logout holds under concurrency, over real HTTP against the real server on every store (memory,
 * SQLite, PostgreSQL, Redis):
 * - a password change, a delete or a disable racing a login: the login is HELD between its password
 *   check and its session write (a store wrapper pauses `createSession`), the revocation runs, then the
 *   login goes on: it gets 401 `invalid_credentials` and nothing it could have created is alive;
 * - 20 parallel `/auth/refresh` with one token: all succeed, every token works, one session, one
 *   live generation; the user is never logged out;
 * - logout-all of a user with many sessions is one feed entry (one write);
 * - an admin revocation made by the CLI (its own default access-token life) outlives the tokens of a
 *   server configured with a longer life.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import type { Store } from "../../src/stores/contract.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";
import { runCli } from "../fixtures/server-harness.js";
import type { TokenResponse } from "../helpers/server-client.js";
import { type MissingTarget, type StoreTarget, storeTargets } from "../security/store-targets.js";

const PASSWORD = "old password 1";
const NEW_PASSWORD = "new password 2";

/** A store whose `createSession` can be held: the login has checked the password and waits to write. */
function holdable(store: Store): {
  store: Store;
  hold: () => { entered: Promise<void>; release: () => void };
} {
  let gate: { entered: () => void; released: Promise<void> } | null = null;
  const wrapped = new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === "createSession") {
        return async (...args: Parameters<Store["createSession"]>) => {
          const g = gate;
          if (g) {
            gate = null;
            g.entered();
            await g.released;
          }
          return target.createSession(...args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: wrapped,
    hold() {
      let entered!: () => void;
      let release!: () => void;
      const enteredP = new Promise<void>((r) => {
        entered = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      gate = { entered, released };
      return { entered: enteredP, release };
    },
  };
}

function post(url: string, path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url + path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

async function get(url: string, path: string, token: string): Promise<Response> {
  return fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
}

const { targets, missing }: { targets: StoreTarget[]; missing: MissingTarget[] } = await storeTargets();
afterAll(async () => {
  for (const t of targets) await t.close();
});

for (const m of missing) {
  // Outside CI a missing server skips with its reason; under CI it fails (never a silent skip).
  describe.skipIf(!process.env.CI)(`logout under concurrency on ${m.name} (${m.reason})`, () => {
    it("needs its server", () => {
      throw new Error(m.reason);
    });
  });
}

for (const target of targets) {
  describe(`logout under concurrency over HTTP: ${target.name}`, () => {
    let server: RevokitServer;
    let url: string;
    let hold: () => { entered: Promise<void>; release: () => void };
    let cleanup: () => Promise<void>;
    let n = 0;

    beforeAll(async () => {
      const opened = await target.open(1);
      cleanup = opened.cleanup;
      const h = holdable(opened.stores[0] as Store);
      hold = h.hold;
      server = await createServer({
        store: h.store,
        port: 0,
        logger: "silent",
        rateLimits: { ipAttempts: 100_000, usernameFailures: 100_000 },
        scrypt: { N: 2 ** 12, r: 8, p: 1 },
      });
      url = await server.listen();
    });
    afterAll(async () => {
      await server?.close();
      await cleanup?.();
    });

    async function newUser(): Promise<{ username: string; id: string }> {
      const username = `user${++n}-${target.name}`;
      const r = await post(url, "/auth/register", { username, password: PASSWORD });
      expect(r.status).toBe(201);
      return { username, id: ((await r.json()) as { user_id: string }).user_id };
    }

    async function login(username: string, password = PASSWORD): Promise<TokenResponse> {
      const r = await post(url, "/auth/login", { username, password });
      expect(r.status).toBe(200);
      return (await r.json()) as TokenResponse;
    }

    /** Starts a login that passes its password check and is held before its session is written. */
    async function heldLogin(username: string): Promise<{ finish: () => Promise<Response> }> {
      const gate = hold();
      const response = post(url, "/auth/login", { username, password: PASSWORD });
      await gate.entered;
      return {
        finish: async () => {
          gate.release();
          return response;
        },
      };
    }

    async function expectNothingAlive(user: { id: string }, except: string[] = []): Promise<void> {
      const live = (await server.auth.listSessions(user.id)).map((s) => s.sessionId);
      expect(live.sort()).toEqual([...except].sort());
    }

    it("a password change racing a login with the old password: the login gets no session", async () => {
      const user = await newUser();
      const me = await login(user.username);
      const other = await login(user.username);
      const held = await heldLogin(user.username);
      const changed = await post(
        url,
        "/auth/password",
        { current_password: PASSWORD, new_password: NEW_PASSWORD },
        me.access_token,
      );
      expect(changed.status).toBe(204);
      const late = await held.finish();
      expect(late.status).toBe(401);
      expect(((await late.json()) as { error: string }).error).toBe("invalid_credentials");
      // Only the session that changed the password is alive; the other device is out.
      await expectNothingAlive(user, [me.session_id]);
      expect((await get(url, "/auth/me", me.access_token)).status).toBe(200);
      expect((await get(url, "/auth/me", other.access_token)).status).toBe(401);
      expect((await post(url, "/auth/refresh", { refresh_token: other.refresh_token })).status).toBe(400);
      // The old password no longer works; the new one does, at once.
      expect((await post(url, "/auth/login", { username: user.username, password: PASSWORD })).status).toBe(
        401,
      );
      const fresh = await login(user.username, NEW_PASSWORD);
      expect((await get(url, "/auth/me", fresh.access_token)).status).toBe(200);
    });

    it("a delete racing a login: the deleted user keeps nothing", async () => {
      const user = await newUser();
      const before = await login(user.username);
      const held = await heldLogin(user.username);
      await server.auth.deleteUser(user.id, { actor: "admin", reason: "user_deleted" });
      const late = await held.finish();
      expect(late.status).toBe(401);
      expect(((await late.json()) as { error: string }).error).toBe("invalid_credentials");
      await expectNothingAlive(user);
      expect((await post(url, "/auth/refresh", { refresh_token: before.refresh_token })).status).toBe(400);
      expect((await post(url, "/auth/login", { username: user.username, password: PASSWORD })).status).toBe(
        401,
      );
    });

    it("a logout-all racing a login: the login gets no session; one right after works", async () => {
      const user = await newUser();
      const me = await login(user.username);
      const held = await heldLogin(user.username);
      expect((await post(url, "/auth/logout-all", {}, me.access_token)).status).toBe(204);
      expect((await held.finish()).status).toBe(401);
      await expectNothingAlive(user);
      const after = await login(user.username);
      expect((await get(url, "/auth/me", after.access_token)).status).toBe(200);
      await expectNothingAlive(user, [after.session_id]);
    });

    it("20 parallel refreshes with one token: all succeed, the user stays logged in, one live chain", async () => {
      const user = await newUser();
      const t = await login(user.username);
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => post(url, "/auth/refresh", { refresh_token: t.refresh_token })),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
      const sets = (await Promise.all(responses.map((r) => r.json()))) as TokenResponse[];
      for (const s of sets) {
        expect(s.session_id).toBe(t.session_id);
        expect((await get(url, "/auth/me", s.access_token)).status).toBe(200);
      }
      await expectNothingAlive(user, [t.session_id]);
      // Whichever token the browser's cookie ended up holding keeps working: the chain goes on.
      const last = sets.at(-1) as TokenResponse;
      const next = await post(url, "/auth/refresh", { refresh_token: last.refresh_token });
      expect(next.status).toBe(200);
      expect((await get(url, "/auth/me", t.access_token)).status).toBe(200);
    });

    it("browser mode: 20 tabs refresh at once with the shared cookie; whichever cookie is set last works", async () => {
      const user = await newUser();
      const r = await post(url, "/auth/login", { username: user.username, password: PASSWORD, cookie: true });
      expect(r.status).toBe(200);
      const cookieOf = (res: Response) => {
        const set = res.headers.get("set-cookie") ?? "";
        const m = /(jr_refresh=[^;]+)/.exec(set);
        if (!m) throw new Error("no refresh cookie set");
        return m[1] as string;
      };
      const first = cookieOf(r);
      const refreshWith = (cookie: string) =>
        fetch(`${url}/auth/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie },
          body: "{}",
        });
      const responses = await Promise.all(Array.from({ length: 20 }, () => refreshWith(first)));
      expect(responses.map((x) => x.status)).toEqual(Array(20).fill(200));
      const cookies = responses.map(cookieOf);
      // Every cookie handed out keeps the tab signed in, in whatever order the browser stored them.
      for (const c of [cookies[19], cookies[0]] as string[]) expect((await refreshWith(c)).status).toBe(200);
      await expectNothingAlive(user, [((await r.json()) as TokenResponse).session_id]);
    });

    it("logout-all of a user with many sessions is one write: one feed entry", async () => {
      const user = await newUser();
      const first = await login(user.username);
      for (let i = 0; i < 60; i++) await server.auth.login(user.id);
      const { cursor } = await server.store.snapshot(Date.now());
      expect((await post(url, "/auth/logout-all", {}, first.access_token)).status).toBe(204);
      const { entries } = await server.store.changes(cursor, { waitMs: 0, limit: 1000 });
      expect(entries.map((e) => [e.kind, e.subject])).toEqual([["user", user.id]]);
      await expectNothingAlive(user);
      expect((await get(url, "/auth/me", first.access_token)).status).toBe(401);
    });
  });
}

describe("revocation lifetimes come from the tokens, not from the writer's configuration", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "revokit-life-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("a CLI revocation (default 15 min) outlives tokens of a server configured for 2 hours", async () => {
    const path = join(dir, "auth.db");
    const server = await createServer({
      store: `sqlite:${path}`,
      port: 0,
      logger: "silent",
      accessTokenTtl: "2h",
      scrypt: { N: 2 ** 12, r: 8, p: 1 },
    });
    const url = await server.listen();
    try {
      const reg = await post(url, "/auth/register", { username: "longlived", password: PASSWORD });
      const userId = ((await reg.json()) as { user_id: string }).user_id;
      const a = (await (
        await post(url, "/auth/login", { username: "longlived", password: PASSWORD })
      ).json()) as TokenResponse;
      const b = (await (
        await post(url, "/auth/login", { username: "longlived", password: PASSWORD })
      ).json()) as TokenResponse;
      const jti = (
        JSON.parse(Buffer.from(a.access_token.split(".")[1] as string, "base64url").toString()) as {
          jti: string;
        }
      ).jti;
      const store = `sqlite:${path}`;
      for (const args of [
        ["revoke", `--jti=${jti}`, "--store", store],
        ["revoke", `--session=${b.session_id}`, "--store", store],
      ]) {
        const r = await runCli(args);
        expect(r.code, r.stderr).toBe(0);
      }
      // 90 minutes later, well past the CLI's own 15 minutes, within the tokens' 2 hours.
      const check = sqliteStore({ path });
      await check.open();
      try {
        const later = Date.now() + 90 * 60_000;
        expect((await check.check({ jti }, later)).jtiRevoked).toBe(true);
        expect((await check.check({ sessionId: b.session_id }, later)).sessionRevoked).toBe(true);
        const snap = await check.snapshot(later);
        expect(snap.entries.map((e) => e.subject).sort()).toEqual([jti, b.session_id].sort());
        expect(await check.tokenLifetimes()).toMatchObject({ accessTokenTtlMs: 2 * 3_600_000 });
        const r = await runCli(["revoke", "--user", "longlived", "--store", store]);
        expect(r.code, r.stderr).toBe(0);
        // The user's cutoff lives as long as a session authenticated before it could be refreshed.
        const user = await check.snapshot(Date.now() + 29 * 24 * 3_600_000);
        expect(user.entries.map((e) => [e.kind, e.subject])).toContainEqual(["user", userId]);
      } finally {
        await check.close();
      }
    } finally {
      await server.close();
    }
  });
});
