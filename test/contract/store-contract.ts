/**
 * The store contract suite: the same cases for every {@link Store} (memory, SQLite, Redis,
 * PostgreSQL), one case per promise made by the doc comments of `src/stores/contract.ts`.
 *
 * Every time is passed in explicitly (the store never decides with its own clock), so nothing sleeps
 * except the long-poll cases of the change feed.
 *
 * @example
 * runStoreContract("sqlite", async () => {
 *   const dir = await mkdtemp(join(tmpdir(), "jr-"));
 *   const path = join(dir, "auth.db");
 *   return {
 *     store: sqliteStore({ path }),
 *     peer: async () => sqliteStore({ path }),
 *     cleanup: () => rm(dir, { recursive: true, force: true }),
 *   };
 * });
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  NewRevocation,
  RevocationEntry,
  RevocationMeta,
  RotateInput,
  RotateResult,
  SessionRecord,
  StoredKey,
  UserRecord,
} from "../../src/core/model.js";
import type { Store } from "../../src/stores/contract.js";
import { sessionRecord } from "../helpers/records.mjs";

/** What a factory hands to the suite for one test case. */
export interface StoreUnderTest {
  /** A store over empty data (the suite calls `open()` on it and `close()` after the case). */
  store: Store;
  /** Removes what the factory set up (files, databases, key prefixes); runs after `close()`. */
  cleanup?: () => Promise<void>;
  /**
   * Optional: a second, independent instance over the same data (another connection, another handle
   * on the same file). The feed cases then write through it, so that "appended from elsewhere" is
   * tested for real. Without it, the store itself plays the peer.
   */
  peer?: () => Promise<Store>;
}

/** Creates a fresh, empty {@link StoreUnderTest} per test case. */
export type StoreFactory = () => Promise<StoreUnderTest>;

/** A fixed, explicit start time: 2025-01-01T00:00:00Z. */
const T0 = Date.UTC(2025, 0, 1);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR_MS = 60 * MINUTE;
const DAY = 24 * HOUR_MS;
const GRACE = 10 * SECOND;
const IDLE = 7 * DAY;
const TTL = 15 * MINUTE;

function uid(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** A random refresh-token hash (the shape of a base64url SHA-256). */
function hash(): string {
  return randomBytes(32).toString("base64url");
}

function newSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return sessionRecord({
    id: uid("sid"),
    userId: uid("user"),
    at: T0,
    ttl: 30 * DAY,
    idleExpiresAt: T0 + IDLE,
    userAgent: "Mozilla/5.0 (contract)",
    ip: "203.0.113.7",
    claims: { role: "admin", level: 3, nested: { list: [1, "two", null], flag: true } },
    scope: "read write",
    ...overrides,
  });
}

function meta(at: number, reason = "logout", ttl = TTL, actor = "user-actor"): RevocationMeta {
  return { reason, actor, at, ttl };
}

function newKey(overrides: Partial<StoredKey> = {}): StoredKey {
  const x = randomBytes(32).toString("base64url");
  return {
    kid: uid("kid"),
    alg: "EdDSA",
    privateJwk: { kty: "OKP", crv: "Ed25519", x, d: randomBytes(32).toString("base64url") },
    publicJwk: { kty: "OKP", crv: "Ed25519", x },
    createdAt: T0,
    activateAt: T0,
    ...overrides,
  };
}

function jtiEntry(
  subject: string,
  at: number,
  expiresAt: number,
  overrides: Partial<NewRevocation> = {},
): NewRevocation {
  return { kind: "jti", subject, expiresAt, reason: "revoked", actor: "admin", at, ...overrides };
}

function globalEntry(cutoff: number, at = cutoff): NewRevocation {
  return {
    kind: "global",
    subject: "",
    cutoff,
    expiresAt: cutoff + TTL,
    reason: "revoke_issued_before",
    actor: "admin",
    at,
  };
}

function rotateInput(presentedHash: string, now: number, overrides: Partial<RotateInput> = {}): RotateInput {
  return {
    presentedHash,
    newHash: hash(),
    now,
    graceMs: GRACE,
    idleTtlMs: IDLE,
    reuseMeta: meta(now, "refresh_token_reuse", TTL, "system"),
    ...overrides,
  };
}

function expectRotated(result: RotateResult): Extract<RotateResult, { status: "rotated" }> {
  expect(result.status).toBe("rotated");
  if (result.status !== "rotated") throw new Error(`expected rotated, got ${result.status}`);
  return result;
}

/** Reads the feed from `cursor` until it is drained, `limit` entries at a time, without waiting. */
async function drain(
  store: Store,
  cursor: string,
  limit = 100,
): Promise<{ entries: RevocationEntry[]; cursor: string; epoch: string }> {
  const entries: RevocationEntry[] = [];
  let epoch = "";
  for (let i = 0; i < 10_000; i++) {
    const batch = await store.changes(cursor, { waitMs: 0, limit });
    epoch = batch.epoch;
    expect(batch.entries.length).toBeLessThanOrEqual(limit);
    if (batch.entries.length === 0) {
      expect(batch.cursor).toBe(cursor);
      return { entries, cursor, epoch };
    }
    entries.push(...batch.entries);
    cursor = batch.cursor;
  }
  throw new Error("the feed never drained");
}

async function startCursor(store: Store): Promise<string> {
  return (await store.snapshot(T0)).cursor;
}

function elapsedSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Registers the contract suite for one store. `factory` is called once per case and must return a
 * store over empty data.
 */
export function runStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}: open({ create: false })`, () => {
    it("refuses a store that was never initialised, creates nothing, and opens it once created", async () => {
      const ctx = await factory();
      const opened: Store[] = [ctx.store];
      try {
        await expect(ctx.store.open({ create: false })).rejects.toMatchObject({ code: "ERR_STORE_MISSING" });
        await ctx.store.close();
        if (ctx.peer) {
          // Another instance on the same data still finds nothing: the refusal wrote no marker.
          const again = await ctx.peer();
          opened.push(again);
          await expect(again.open({ create: false })).rejects.toMatchObject({ code: "ERR_STORE_MISSING" });
          await again.close();
          const creator = await ctx.peer();
          opened.push(creator);
          await creator.open();
          await creator.addKey(newKey({ kid: "kid-created" }));
          await creator.close();
          const admin = await ctx.peer();
          opened.push(admin);
          await admin.open({ create: false });
          expect((await admin.listKeys()).map((k) => k.kid)).toEqual(["kid-created"]);
        } else {
          await ctx.store.open();
          await ctx.store.addKey(newKey({ kid: "kid-created" }));
          await ctx.store.open({ create: false });
          expect((await ctx.store.listKeys()).map((k) => k.kid)).toEqual(["kid-created"]);
        }
      } finally {
        for (const s of opened) await s.close();
        await ctx.cleanup?.();
      }
    });
  });

  describe(`store contract: ${name}`, () => {
    let ctx: StoreUnderTest;
    let store: Store;
    let peers: Store[] = [];

    beforeEach(async () => {
      ctx = await factory();
      store = ctx.store;
      await store.open();
    });

    afterEach(async () => {
      for (const p of peers) if (p !== store) await p.close();
      peers = [];
      await store.close();
      await ctx.cleanup?.();
    });

    /** The instance that plays "elsewhere": the factory's peer, or the store itself. */
    async function peer(): Promise<Store> {
      if (!ctx.peer) return store;
      const p = await ctx.peer();
      peers.push(p);
      await p.open();
      return p;
    }

    describe("lifecycle", () => {
      it("names its kind, states durability, and opens and closes idempotently", async () => {
        expect(typeof store.kind).toBe("string");
        expect(store.kind.length).toBeGreaterThan(0);
        expect(typeof store.durable).toBe("boolean");
        await store.open();
        await store.open();
        const s = newSession();
        expect(await store.createSession(s, hash())).toBe("created");
        expect((await store.getSession(s.id))?.id).toBe(s.id);
      });

      it("resolves or rejects a pending long poll promptly on close", async () => {
        const cursor = await startCursor(store);
        const started = process.hrtime.bigint();
        const pending = store.changes(cursor, { waitMs: 20_000, limit: 10 }).then(
          () => "resolved",
          () => "rejected",
        );
        await new Promise((r) => setTimeout(r, 50));
        await store.close();
        await store.close();
        const outcome = await pending;
        expect(["resolved", "rejected"]).toContain(outcome);
        expect(elapsedSince(started)).toBeLessThan(10_000);
      });
    });

    describe("keys", () => {
      it("adds keys and lists them oldest first, round-tripping every field", async () => {
        const b = newKey({ createdAt: T0 + 2, activateAt: T0 + 5 * MINUTE });
        const a = newKey({ createdAt: T0 });
        const c = newKey({
          createdAt: T0 + 1,
          alg: "HS256",
          privateJwk: { kty: "oct", k: randomBytes(32).toString("base64url") },
          publicJwk: null,
        });
        expect(await store.addKey(b)).toBe(true);
        expect(await store.addKey(a)).toBe(true);
        expect(await store.addKey(c)).toBe(true);
        expect(await store.listKeys()).toEqual([a, c, b]);
      });

      it("is idempotent by kid: a second add of the same kid adds nothing and changes nothing", async () => {
        const k = newKey();
        expect(await store.addKey(k)).toBe(true);
        expect(await store.addKey({ ...k, activateAt: T0 + DAY, createdAt: T0 + DAY })).toBe(false);
        expect(await store.listKeys()).toEqual([k]);
      });

      it("with ifNoKeyFor adds only when no key of that algorithm exists", async () => {
        const ed = newKey({ alg: "EdDSA" });
        expect(await store.addKey(ed, { ifNoKeyFor: "EdDSA" })).toBe(true);
        expect(await store.addKey(newKey({ alg: "EdDSA", createdAt: T0 + 1 }), { ifNoKeyFor: "EdDSA" })).toBe(
          false,
        );
        const es = newKey({ alg: "ES256", createdAt: T0 + 2 });
        expect(await store.addKey(es, { ifNoKeyFor: "ES256" })).toBe(true);
        // Without the option, a second key of an algorithm is added (key rotation).
        const ed2 = newKey({ alg: "EdDSA", createdAt: T0 + 3 });
        expect(await store.addKey(ed2)).toBe(true);
        expect((await store.listKeys()).map((k) => k.kid)).toEqual([ed.kid, es.kid, ed2.kid]);
      });

      it("lets exactly one of 20 concurrent first starts add its key (ifNoKeyFor is atomic)", async () => {
        const other = await peer();
        const keys = Array.from({ length: 20 }, (_, i) => newKey({ createdAt: T0 + i }));
        const added = await Promise.all(
          keys.map((k, i) => (i % 2 === 0 ? store : other).addKey(k, { ifNoKeyFor: "EdDSA" })),
        );
        expect(added.filter(Boolean)).toHaveLength(1);
        const stored = await store.listKeys();
        expect(stored).toHaveLength(1);
        expect(stored[0]?.kid).toBe(keys[added.indexOf(true)]?.kid);
      });

      it("deletes a key by kid, idempotently", async () => {
        const a = newKey({ createdAt: T0 });
        const b = newKey({ createdAt: T0 + 1 });
        await store.addKey(a);
        await store.addKey(b);
        await store.deleteKey(a.kid);
        await store.deleteKey(a.kid);
        await store.deleteKey("no-such-kid");
        expect(await store.listKeys()).toEqual([b]);
      });
    });

    describe("sessions", () => {
      it("creates a session and returns it by id with every field intact", async () => {
        const s = newSession();
        const bare = newSession({
          userAgent: null,
          ip: null,
          claims: null,
          scope: null,
          clientId: "mobile-app",
        });
        expect(await store.createSession(s, hash())).toBe("created");
        expect(await store.createSession(bare, hash())).toBe("created");
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.getSession(bare.id)).toEqual(bare);
      });

      it("returns null for an unknown session", async () => {
        expect(await store.getSession("no-such-session")).toBeNull();
      });

      it("hands out copies: mutating a returned record does not change the store", async () => {
        const s = newSession();
        await store.createSession(s, hash());
        const got = await store.getSession(s.id);
        if (!got) throw new Error("session missing");
        got.revokedAt = 1;
        (got.claims as Record<string, unknown>).role = "root";
        expect(await store.getSession(s.id)).toEqual(s);
      });

      it("refuses to create a session for a disabled user, creating nothing", async () => {
        const userId = uid("user");
        await store.cutOffUser(userId, meta(T0 - 1, "user_disabled"), { disable: true });
        const s = newSession({ userId });
        const h = hash();
        expect(await store.createSession(s, h)).toBe("user_disabled");
        expect(await store.getSession(s.id)).toBeNull();
        expect(await store.findRefreshToken(h)).toBeNull();
        expect(await store.listUserSessions(userId, T0 + 1)).toEqual([]);
        await store.enableUser(userId);
        expect(await store.createSession(s, h)).toBe("created");
        expect((await store.findRefreshToken(h))?.session.id).toBe(s.id);
      });

      it("never leaves a live session behind when creation races a disable (atomic with the flag)", async () => {
        const userId = uid("user");
        const other = await peer();
        const sessions = Array.from({ length: 20 }, (_, i) => newSession({ userId, createdAt: T0 + i }));
        const creates = sessions.map((s, i) => (i % 2 === 0 ? store : other).createSession(s, hash()));
        const disable = store.cutOffUser(userId, meta(T0 + 30, "user_disabled"), { disable: true });
        const more = Array.from({ length: 10 }, (_, i) => newSession({ userId, createdAt: T0 + 21 + i }));
        const late = more.map((s) => other.createSession(s, hash()));
        const results = await Promise.all([...creates, ...late]);
        expect(await disable).toEqual({ cutoff: T0 + 30, exceptSessionId: null });
        expect(results.every((r) => r === "created" || r === "cut_off")).toBe(true);
        const all = [...sessions, ...more];
        for (const [i, s] of all.entries()) {
          const got = await store.getSession(s.id);
          if (results[i] === "created") expect(got?.id).toBe(s.id);
          else expect(got).toBeNull();
        }
        expect(await store.listUserSessions(userId, T0 + 60)).toEqual([]);
        expect(await store.createSession(newSession({ userId, createdAt: T0 + 100 }), hash())).toBe(
          "user_disabled",
        );
      });

      it("lists a user's live sessions newest first, without revoked, expired or idle-expired ones", async () => {
        const userId = uid("user");
        const now = T0 + DAY;
        const old = newSession({ userId, createdAt: T0 + 1 });
        const newest = newSession({ userId, createdAt: T0 + 3 });
        const middle = newSession({ userId, createdAt: T0 + 2 });
        const revoked = newSession({ userId, createdAt: T0 + 4 });
        const expired = newSession({ userId, createdAt: T0 + 5, expiresAt: now });
        const idle = newSession({ userId, createdAt: T0 + 6, idleExpiresAt: now - 1 });
        const someoneElse = newSession({ createdAt: T0 + 7 });
        for (const s of [old, newest, middle, revoked, expired, idle, someoneElse]) {
          expect(await store.createSession(s, hash())).toBe("created");
        }
        await store.revokeSession(revoked.id, meta(T0 + 10));
        const listed = await store.listUserSessions(userId, now);
        expect(listed.map((s) => s.id)).toEqual([newest.id, middle.id, old.id]);
        expect(listed[0]).toEqual(newest);
        expect(await store.listUserSessions(uid("nobody"), now)).toEqual([]);
      });

      it("does not list sessions created before the global cutoff", async () => {
        const userId = uid("user");
        const before = newSession({ userId, createdAt: T0 });
        const after = newSession({ userId, createdAt: T0 + 2 * SECOND });
        await store.createSession(before, hash());
        await store.createSession(after, hash());
        await store.addRevocation(globalEntry(T0 + SECOND));
        expect((await store.listUserSessions(userId, T0 + MINUTE)).map((s) => s.id)).toEqual([after.id]);
      });
    });

    describe("refresh-token rotation", () => {
      async function start(
        overrides: Partial<SessionRecord> = {},
      ): Promise<{ s: SessionRecord; h0: string }> {
        const s = newSession(overrides);
        const h0 = hash();
        expect(await store.createSession(s, h0)).toBe("created");
        return { s, h0 };
      }

      it("rotates the current token: next generation, last use now, idle end pushed out", async () => {
        const { s, h0 } = await start();
        const now = T0 + MINUTE;
        const input = rotateInput(h0, now);
        const r = expectRotated(await store.rotateRefreshToken(input));
        const expected: SessionRecord = {
          ...s,
          generation: 1,
          rotatedAt: now,
          lastUsedAt: now,
          idleExpiresAt: now + IDLE,
        };
        expect(r.grace).toBe(false);
        expect(r.session).toEqual(expected);
        expect(await store.getSession(s.id)).toEqual(expected);
        expect(await store.findRefreshToken(input.newHash)).toEqual({ session: expected, generation: 1 });
        expect(await store.findRefreshToken(h0)).toEqual({ session: expected, generation: 0 });
      });

      it("caps the idle end at the absolute end of the session", async () => {
        const { s, h0 } = await start({ expiresAt: T0 + DAY });
        const r = expectRotated(await store.rotateRefreshToken(rotateInput(h0, T0 + MINUTE)));
        expect(r.session.idleExpiresAt).toBe(s.expiresAt);
      });

      it("rotates a chain of generations, each token once", async () => {
        const { h0 } = await start();
        let current = h0;
        for (let g = 1; g <= 5; g++) {
          const input = rotateInput(current, T0 + g * MINUTE);
          const r = expectRotated(await store.rotateRefreshToken(input));
          expect(r.grace).toBe(false);
          expect(r.session.generation).toBe(g);
          current = input.newHash;
        }
        expect((await store.findRefreshToken(current))?.generation).toBe(5);
        expect((await store.findRefreshToken(h0))?.generation).toBe(0);
      });

      it("lets the immediate predecessor redeem again within the grace window: a token of the SAME current generation, nothing else changes", async () => {
        const { s, h0 } = await start();
        const t1 = T0 + MINUTE;
        const first = rotateInput(h0, t1);
        const winner = expectRotated(await store.rotateRefreshToken(first)).session;
        // A second tab presents the old token 5 s later: grace, and both tabs now hold generation 1.
        const second = rotateInput(h0, t1 + 5 * SECOND);
        const r = expectRotated(await store.rotateRefreshToken(second));
        expect(r.grace).toBe(true);
        expect(r.session).toEqual(winner);
        expect(await store.getSession(s.id)).toEqual(winner);
        expect((await store.findRefreshToken(second.newHash))?.generation).toBe(1);
        expect((await store.findRefreshToken(first.newHash))?.generation).toBe(1);
        // Either tab's token rotates the session on; the other one is then the predecessor: grace again.
        const on = rotateInput(second.newHash, t1 + 6 * SECOND);
        expect(expectRotated(await store.rotateRefreshToken(on)).session.generation).toBe(2);
        const other = rotateInput(first.newHash, t1 + 7 * SECOND);
        const g = expectRotated(await store.rotateRefreshToken(other));
        expect(g.grace).toBe(true);
        expect((await store.findRefreshToken(other.newHash))?.generation).toBe(2);
        // The token two generations back is reuse, even inside the window: the session is revoked.
        const replay = rotateInput(h0, t1 + 8 * SECOND);
        const reused = await store.rotateRefreshToken(replay);
        expect(reused.status).toBe("reused");
        expect((await store.getSession(s.id))?.revokedAt).toBe(t1 + 8 * SECOND);
        expect(await store.findRefreshToken(replay.newHash)).toBeNull();
      });

      it("closes the grace window exactly graceMs after the last rotation (exclusive); grace redemptions do not extend it", async () => {
        const { h0 } = await start();
        const t1 = T0 + MINUTE;
        const first = rotateInput(h0, t1);
        expectRotated(await store.rotateRefreshToken(first));
        const r = expectRotated(await store.rotateRefreshToken(rotateInput(h0, t1 + GRACE - 1)));
        expect(r.grace).toBe(true);
        const late = await store.rotateRefreshToken(rotateInput(h0, t1 + GRACE));
        expect(late.status).toBe("reused");
      });

      it("treats a superseded token after the grace window as reuse: revokes the session in the same step and records it", async () => {
        const { s, h0 } = await start();
        const cursor = await startCursor(store);
        const t1 = T0 + MINUTE;
        const first = rotateInput(h0, t1);
        expectRotated(await store.rotateRefreshToken(first));
        const t2 = t1 + GRACE + 1;
        const replay = rotateInput(h0, t2, { reuseMeta: meta(t2, "refresh_token_reuse", TTL, "system") });
        const r = await store.rotateRefreshToken(replay);
        expect(r.status).toBe("reused");
        if (r.status !== "reused") return;
        expect(r.session.id).toBe(s.id);
        expect(r.session.revokedAt).toBe(t2);
        expect(r.session.revokeReason).toBe("refresh_token_reuse");
        const stored = await store.getSession(s.id);
        expect(stored?.revokedAt).toBe(t2);
        expect(stored?.revokeReason).toBe("refresh_token_reuse");
        expect(stored?.generation).toBe(1);
        expect(await store.findRefreshToken(replay.newHash)).toBeNull();
        const { entries } = await drain(store, cursor);
        expect(entries.map(({ seq: _seq, ...rest }) => rest)).toEqual([
          {
            kind: "session",
            subject: s.id,
            expiresAt: t2 + TTL,
            reason: "refresh_token_reuse",
            actor: "system",
            at: t2,
          },
        ]);
        expect((await store.check({ sessionId: s.id }, t2 + 1)).sessionRevoked).toBe(true);
        // The thief's current token is now dead too.
        const after = await store.rotateRefreshToken(rotateInput(first.newHash, t2 + 1));
        expect(after.status).toBe("revoked");
      });

      it("treats the predecessor as reuse when the grace window is zero, even at the same instant", async () => {
        const { h0 } = await start();
        expectRotated(await store.rotateRefreshToken(rotateInput(h0, T0 + MINUTE, { graceMs: 0 })));
        const r = await store.rotateRefreshToken(rotateInput(h0, T0 + MINUTE, { graceMs: 0 }));
        expect(r.status).toBe("reused");
      });

      it("refuses with expired at and after the absolute end, changing nothing", async () => {
        const { s, h0 } = await start({ expiresAt: T0 + DAY, idleExpiresAt: T0 + DAY });
        const cursor = await startCursor(store);
        const input = rotateInput(h0, T0 + DAY);
        const r = await store.rotateRefreshToken(input);
        expect(r).toEqual({ status: "expired", session: s });
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.findRefreshToken(input.newHash)).toBeNull();
        expect((await drain(store, cursor)).entries).toEqual([]);
      });

      it("refuses with idle_expired when unused past the idle end, changing nothing", async () => {
        const { s, h0 } = await start({ idleExpiresAt: T0 + DAY });
        const input = rotateInput(h0, T0 + DAY + 1);
        const r = await store.rotateRefreshToken(input);
        expect(r).toEqual({ status: "idle_expired", session: s });
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.findRefreshToken(input.newHash)).toBeNull();
      });

      it("refuses with revoked for a revoked session, changing nothing and recording nothing", async () => {
        const { s, h0 } = await start();
        await store.revokeSession(s.id, meta(T0 + 10));
        const cursor = await startCursor(store);
        const revoked = await store.getSession(s.id);
        const input = rotateInput(h0, T0 + MINUTE);
        const r = await store.rotateRefreshToken(input);
        expect(r).toEqual({ status: "revoked", session: revoked });
        expect(await store.findRefreshToken(input.newHash)).toBeNull();
        expect((await drain(store, cursor)).entries).toEqual([]);
      });

      it("refuses with unknown for a hash it never stored", async () => {
        await start();
        expect(await store.rotateRefreshToken(rotateInput(hash(), T0 + MINUTE))).toEqual({
          status: "unknown",
        });
      });

      it("refuses with revoked for a session created before the global cutoff, and rotates later ones", async () => {
        const { h0 } = await start({ createdAt: T0 });
        const later = await start({ createdAt: T0 + 2 * SECOND });
        await store.addRevocation(globalEntry(T0 + SECOND));
        expect((await store.rotateRefreshToken(rotateInput(h0, T0 + MINUTE))).status).toBe("revoked");
        expectRotated(await store.rotateRefreshToken(rotateInput(later.h0, T0 + MINUTE)));
      });

      it("lets exactly one of 50 parallel rotations of one token win, and never leaves two live chains", async () => {
        const { s, h0 } = await start();
        const other = await peer();
        const now = T0 + MINUTE;
        const inputs = Array.from({ length: 50 }, () => rotateInput(h0, now));
        const results = await Promise.all(
          inputs.map((input, i) => (i % 2 === 0 ? store : other).rotateRefreshToken(input)),
        );
        const winners = results.filter((r) => r.status === "rotated" && !r.grace);
        const graced = results.filter((r) => r.status === "rotated" && r.grace);
        // One moves the session on; every other one is a concurrent redemption: all succeed.
        expect(winners).toHaveLength(1);
        expect(graced).toHaveLength(49);
        const final = await store.getSession(s.id);
        if (!final) throw new Error("session missing");
        expect(final.revokedAt).toBeNull();
        expect(final.generation).toBe(1);
        for (const r of results) expect(r.status === "rotated" && r.session.generation).toBe(1);
        // Every token handed out belongs to the one live generation, and any of them rotates on.
        const found = await Promise.all(inputs.map((i) => store.findRefreshToken(i.newHash)));
        for (const f of found) expect(f?.generation).toBe(1);
        const last = inputs[49] as RotateInput;
        const on = expectRotated(await store.rotateRefreshToken(rotateInput(last.newHash, now + SECOND)));
        expect(on.session.generation).toBe(2);
      });

      it("lets exactly one of 50 parallel rotations win without a grace window; the rest are reuse or revoked", async () => {
        const { s, h0 } = await start();
        const other = await peer();
        const now = T0 + MINUTE;
        const inputs = Array.from({ length: 50 }, () => rotateInput(h0, now, { graceMs: 0 }));
        const results = await Promise.all(
          inputs.map((input, i) => (i % 2 === 0 ? store : other).rotateRefreshToken(input)),
        );
        const rotated = results.filter((r) => r.status === "rotated");
        expect(rotated).toHaveLength(1);
        expect(rotated[0]?.status === "rotated" && rotated[0].grace).toBe(false);
        expect(results.filter((r) => r.status === "reused").length).toBeGreaterThanOrEqual(1);
        for (const r of results) expect(["rotated", "reused", "revoked"]).toContain(r.status);
        const final = await store.getSession(s.id);
        expect(final?.generation).toBe(1);
        expect(final?.revokedAt).toBe(now);
        const live = (await Promise.all(inputs.map((i) => store.findRefreshToken(i.newHash)))).filter(
          (f) => f !== null,
        );
        expect(live).toHaveLength(1);
      });
    });

    describe("findRefreshToken", () => {
      it("returns the session and generation of a hash without changing anything, or null", async () => {
        const s = newSession();
        const h0 = hash();
        await store.createSession(s, h0);
        expect(await store.findRefreshToken(h0)).toEqual({ session: s, generation: 0 });
        expect(await store.findRefreshToken(h0)).toEqual({ session: s, generation: 0 });
        expect(await store.getSession(s.id)).toEqual(s);
        expect(await store.findRefreshToken(hash())).toBeNull();
      });
    });

    describe("revoking sessions", () => {
      it("revokes a session once, records one session entry, and is idempotent", async () => {
        const s = newSession();
        const bystander = newSession({ userId: s.userId });
        await store.createSession(s, hash());
        await store.createSession(bystander, hash());
        const cursor = await startCursor(store);
        const m = meta(T0 + MINUTE, "logout", TTL, s.userId);
        expect(await store.revokeSession(s.id, m)).toBe(true);
        expect(await store.revokeSession(s.id, meta(T0 + 2 * MINUTE, "admin_revoke"))).toBe(false);
        expect(await store.revokeSession("no-such-session", m)).toBe(false);
        const got = await store.getSession(s.id);
        expect(got).toEqual({ ...s, revokedAt: T0 + MINUTE, revokeReason: "logout" });
        expect((await store.getSession(bystander.id))?.revokedAt).toBeNull();
        const { entries } = await drain(store, cursor);
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({
          kind: "session",
          subject: s.id,
          expiresAt: T0 + MINUTE + TTL,
          reason: "logout",
          actor: s.userId,
          at: T0 + MINUTE,
        });
        expect(typeof entries[0]?.seq).toBe("string");
        const check = await store.check({ sessionId: s.id }, T0 + MINUTE + 1);
        expect(check.sessionRevoked).toBe(true);
        expect((await store.check({ sessionId: bystander.id }, T0 + MINUTE + 1)).sessionRevoked).toBe(false);
      });

      it("cuts off every session of a user authenticated before, except one, with ONE user entry", async () => {
        const userId = uid("user");
        const a = newSession({ userId, createdAt: T0 + 1 });
        const b = newSession({ userId, createdAt: T0 + 2 });
        const keep = newSession({ userId, createdAt: T0 + 3 });
        const already = newSession({ userId, createdAt: T0 + 4 });
        const stranger = newSession({ createdAt: T0 + 5 });
        const hashes = new Map<string, string>();
        for (const s of [a, b, keep, already, stranger]) {
          const h = hash();
          hashes.set(s.id, h);
          await store.createSession(s, h);
        }
        await store.revokeSession(already.id, meta(T0 + 10));
        const cursor = await startCursor(store);
        const m = meta(T0 + MINUTE, "password_change", TTL, userId);
        const cut = await store.cutOffUser(userId, m, { exceptSessionId: keep.id });
        expect(cut).toEqual({ cutoff: T0 + MINUTE, exceptSessionId: keep.id });
        expect(await store.isUserDisabled(userId)).toBe(false);
        const { entries } = await drain(store, cursor);
        expect(entries.map(({ seq: _seq, ...rest }) => rest)).toEqual([
          {
            kind: "user",
            subject: userId,
            cutoff: T0 + MINUTE,
            exceptSessionId: keep.id,
            reason: "password_change",
            actor: userId,
            at: T0 + MINUTE,
            expiresAt: T0 + MINUTE + TTL,
          },
        ]);
        // One rule everywhere: listing, the point check and rotation all apply the cutoff.
        const now = T0 + 2 * MINUTE;
        expect((await store.listUserSessions(userId, now)).map((x) => x.id)).toEqual([keep.id]);
        expect((await store.check({ userId }, now)).user).toEqual(cut);
        expect((await store.check({ userId: stranger.userId }, now)).user).toBeNull();
        for (const s of [a, b]) {
          const r = await store.rotateRefreshToken(rotateInput(hashes.get(s.id) as string, now));
          expect(r.status).toBe("revoked");
        }
        expectRotated(await store.rotateRefreshToken(rotateInput(hashes.get(keep.id) as string, now)));
        expectRotated(await store.rotateRefreshToken(rotateInput(hashes.get(stranger.id) as string, now)));
        // A login authenticated right after the cutoff works; one in its millisecond or before does not.
        const fresh = newSession({ userId, createdAt: T0 + MINUTE + 1 });
        expect(await store.createSession(fresh, hash())).toBe("created");
        const stale = newSession({ userId, createdAt: T0 + MINUTE });
        const staleHash = hash();
        expect(await store.createSession(stale, staleHash)).toBe("cut_off");
        expect(await store.getSession(stale.id)).toBeNull();
        expect(await store.findRefreshToken(staleHash)).toBeNull();
        expect((await store.listUserSessions(userId, now)).map((x) => x.id).sort()).toEqual(
          [keep.id, fresh.id].sort(),
        );
      });

      it("lists the sessions a user cutoff ended, as a read", async () => {
        const userId = uid("user");
        const a = newSession({ userId, createdAt: T0 + 1 });
        const b = newSession({ userId, createdAt: T0 + 2 });
        const keep = newSession({ userId, createdAt: T0 + 3 });
        const revoked = newSession({ userId, createdAt: T0 + 4 });
        const expired = newSession({ userId, createdAt: T0 + 5, expiresAt: T0 + 30 * SECOND });
        const idle = newSession({ userId, createdAt: T0 + 6, idleExpiresAt: T0 + MINUTE });
        const atCut = newSession({ userId, createdAt: T0 + MINUTE });
        const stranger = newSession({ createdAt: T0 + 7 });
        for (const s of [a, b, keep, revoked, expired, idle, atCut, stranger])
          await store.createSession(s, hash());
        await store.revokeSession(revoked.id, meta(T0 + 10));
        const cut = await store.cutOffUser(userId, meta(T0 + MINUTE, "password_change", TTL, userId), {
          exceptSessionId: keep.id,
        });
        expect(cut).toEqual({ cutoff: T0 + MINUTE, exceptSessionId: keep.id });
        const after = newSession({ userId, createdAt: T0 + MINUTE + 1 });
        expect(await store.createSession(after, hash())).toBe("created");
        const cursor = await startCursor(store);
        const before = await Promise.all([a, b, keep, atCut].map((s) => store.getSession(s.id)));
        // Ended: not revoked itself, live at the cutoff, authenticated up to it; the spared one is not.
        const ids = async (c: typeof cut) => (await store.listSessionsCutOff(userId, c)).map((s) => s.id);
        expect(await ids(cut)).toEqual([atCut.id, b.id, a.id]);
        expect(await ids(cut)).toEqual([atCut.id, b.id, a.id]);
        const [first] = await store.listSessionsCutOff(userId, cut);
        expect(first).toEqual(await store.getSession(atCut.id));
        // The cutoff passed in decides, not the one recorded (a feed entry read later gives the same answer).
        expect(await ids({ cutoff: T0 + 2, exceptSessionId: null })).toEqual([b.id, a.id]);
        expect(await ids({ cutoff: T0 + 3, exceptSessionId: a.id })).toEqual([keep.id, b.id]);
        expect(await ids({ cutoff: T0, exceptSessionId: null })).toEqual([]);
        expect(await store.listSessionsCutOff(uid("user"), cut)).toEqual([]);
        // A read: no feed entry, no session changed, the cutoff still in force.
        expect((await drain(store, cursor)).entries).toEqual([]);
        expect(await Promise.all([a, b, keep, atCut].map((s) => store.getSession(s.id)))).toEqual(before);
        expect((await store.check({ userId }, T0 + 2 * MINUTE)).user).toEqual(cut);
        expect((await store.listUserSessions(userId, T0 + 2 * MINUTE)).map((s) => s.id).sort()).toEqual(
          [keep.id, after.id].sort(),
        );
      });

      it("is one constant-size write whatever the number of sessions", async () => {
        const userId = uid("user");
        for (let i = 0; i < 300; i++)
          await store.createSession(newSession({ userId, createdAt: T0 + i }), hash());
        const cursor = await startCursor(store);
        await store.cutOffUser(userId, meta(T0 + MINUTE, "logout_all"));
        const { entries } = await drain(store, cursor);
        expect(entries).toHaveLength(1);
        expect(entries[0]?.kind).toBe("user");
        expect(await store.listUserSessions(userId, T0 + MINUTE)).toEqual([]);
      });

      it("only moves a user's cutoff forward, and never brings back a session an earlier cutoff ended", async () => {
        const userId = uid("user");
        const old = newSession({ userId, createdAt: T0 + 1 });
        const mid = newSession({ userId, createdAt: T0 + 2 * MINUTE });
        await store.createSession(old, hash());
        await store.createSession(mid, hash());
        await store.cutOffUser(userId, meta(T0 + MINUTE, "logout_all"));
        // A password change from the old session, racing the logout-all: it may not keep it alive.
        const pw = await store.cutOffUser(userId, meta(T0 + 3 * MINUTE, "password_change"), {
          exceptSessionId: old.id,
        });
        expect(pw).toEqual({ cutoff: T0 + 3 * MINUTE, exceptSessionId: null });
        expect(await store.listUserSessions(userId, T0 + 4 * MINUTE)).toEqual([]);
        // An earlier cutoff arriving late changes nothing.
        const late = await store.cutOffUser(userId, meta(T0 + 2 * MINUTE, "logout_all"));
        expect(late).toEqual(pw);
        // A spared session stays spared by the next cutoff that spares it too (password changed twice).
        const now = newSession({ userId, createdAt: T0 + 4 * MINUTE });
        await store.createSession(now, hash());
        await store.cutOffUser(userId, meta(T0 + 5 * MINUTE, "password_change"), { exceptSessionId: now.id });
        const again = await store.cutOffUser(userId, meta(T0 + 6 * MINUTE, "password_change"), {
          exceptSessionId: now.id,
        });
        expect(again).toEqual({ cutoff: T0 + 6 * MINUTE, exceptSessionId: now.id });
        expect((await store.listUserSessions(userId, T0 + 7 * MINUTE)).map((x) => x.id)).toEqual([now.id]);
        // Another user's session is never spared.
        const foreign = newSession({ createdAt: T0 });
        await store.createSession(foreign, hash());
        const f = await store.cutOffUser(userId, meta(T0 + 8 * MINUTE, "password_change"), {
          exceptSessionId: foreign.id,
        });
        expect(f.exceptSessionId).toBeNull();
      });

      it("never leaves a live session behind when logins race a cutoff (creation is atomic against it)", async () => {
        const userId = uid("user");
        const other = await peer();
        const cutoff = T0 + 50;
        // Every login checked its credentials before the cutoff; they race it from two connections.
        const sessions = Array.from({ length: 40 }, (_, i) => newSession({ userId, createdAt: T0 + i }));
        const creates = sessions.map((s, i) => (i % 2 === 0 ? store : other).createSession(s, hash()));
        const cut = (sessions.length % 2 === 0 ? other : store).cutOffUser(
          userId,
          meta(cutoff, "password_change"),
        );
        const results = await Promise.all(creates);
        await cut;
        expect(results.every((r) => r === "created" || r === "cut_off")).toBe(true);
        expect(await store.listUserSessions(userId, cutoff + 1)).toEqual([]);
        expect(await other.listUserSessions(userId, cutoff + 1)).toEqual([]);
        for (const s of sessions) {
          const got = await store.getSession(s.id);
          if (got) expect(got.createdAt).toBeLessThan(cutoff);
        }
      });

      it("with disable sets the user's flag in the same step; enableUser clears it idempotently", async () => {
        const userId = uid("user");
        const s = newSession({ userId });
        await store.createSession(s, hash());
        expect(await store.isUserDisabled(userId)).toBe(false);
        const cut = await store.cutOffUser(userId, meta(T0 + MINUTE, "user_disabled", TTL, "admin"), {
          disable: true,
        });
        expect(cut).toEqual({ cutoff: T0 + MINUTE, exceptSessionId: null });
        expect(await store.isUserDisabled(userId)).toBe(true);
        expect(await store.isUserDisabled(uid("other"))).toBe(false);
        expect(await store.createSession(newSession({ userId, createdAt: T0 + 2 * MINUTE }), hash())).toBe(
          "user_disabled",
        );
        await store.enableUser(userId);
        await store.enableUser(userId);
        await store.enableUser(uid("never-disabled"));
        expect(await store.isUserDisabled(userId)).toBe(false);
        // Sessions ended by the cutoff stay ended; a new login (after the cutoff) works again.
        expect(await store.listUserSessions(userId, T0 + 2 * MINUTE)).toEqual([]);
        expect(await store.createSession(newSession({ userId }), hash())).toBe("cut_off");
        expect(await store.createSession(newSession({ userId, createdAt: T0 + MINUTE + 1 }), hash())).toBe(
          "created",
        );
      });

      it("disables a user that has no sessions and no user record", async () => {
        const userId = uid("user");
        expect(await store.cutOffUser(userId, meta(T0, "user_disabled"), { disable: true })).toEqual({
          cutoff: T0,
          exceptSessionId: null,
        });
        expect(await store.isUserDisabled(userId)).toBe(true);
      });
    });

    describe("revocations", () => {
      it("records a jti revocation and returns the entry with a seq", async () => {
        const entry = jtiEntry(uid("jti"), T0, T0 + TTL);
        const recorded = await store.addRevocation(entry);
        expect(recorded).toMatchObject(entry);
        expect(typeof recorded?.seq).toBe("string");
        expect(recorded?.seq.length).toBeGreaterThan(0);
        expect((await store.check({ jti: entry.subject }, T0 + 1)).jtiRevoked).toBe(true);
        expect((await store.check({ jti: uid("jti") }, T0 + 1)).jtiRevoked).toBe(false);
      });

      it("is idempotent per jti, keeping the later expiry", async () => {
        const jti = uid("jti");
        const cursor = await startCursor(store);
        expect(await store.addRevocation(jtiEntry(jti, T0, T0 + TTL))).not.toBeNull();
        expect(await store.addRevocation(jtiEntry(jti, T0 + 1, T0 + TTL))).toBeNull();
        expect(await store.addRevocation(jtiEntry(jti, T0 + 2, T0 + TTL - MINUTE))).toBeNull();
        const later = await store.addRevocation(jtiEntry(jti, T0 + 3, T0 + 2 * TTL));
        expect(later).toMatchObject({ subject: jti, expiresAt: T0 + 2 * TTL });
        expect(await store.addRevocation(jtiEntry(jti, T0 + 4, T0 + TTL))).toBeNull();
        // Between the two expiries the jti is still revoked.
        expect((await store.check({ jti }, T0 + TTL + MINUTE)).jtiRevoked).toBe(true);
        expect((await store.check({ jti }, T0 + 2 * TTL)).jtiRevoked).toBe(false);
        const snap = await store.snapshot(T0 + TTL + MINUTE);
        const forJti = snap.entries.filter((e) => e.subject === jti);
        expect(forJti.length).toBeGreaterThan(0);
        expect(Math.max(...forJti.map((e) => e.expiresAt))).toBe(T0 + 2 * TTL);
        const { entries } = await drain(store, cursor);
        expect(entries.map((e) => e.expiresAt)).toEqual([T0 + TTL, T0 + 2 * TTL]);
      });

      it("moves the global cutoff only forward", async () => {
        const cursor = await startCursor(store);
        expect((await store.check({}, T0)).globalCutoff).toBe(0);
        expect(await store.addRevocation(globalEntry(T0 + 100))).toMatchObject({
          kind: "global",
          cutoff: T0 + 100,
        });
        expect(await store.addRevocation(globalEntry(T0 + 50))).toBeNull();
        expect(await store.addRevocation(globalEntry(T0 + 100))).toBeNull();
        expect((await store.check({}, T0 + 200)).globalCutoff).toBe(T0 + 100);
        expect(await store.addRevocation(globalEntry(T0 + 200))).toMatchObject({ cutoff: T0 + 200 });
        expect((await store.check({}, T0 + 300)).globalCutoff).toBe(T0 + 200);
        expect((await store.snapshot(T0 + 300)).globalCutoff).toBe(T0 + 200);
        const { entries } = await drain(store, cursor);
        expect(entries.map((e) => [e.kind, e.cutoff])).toEqual([
          ["global", T0 + 100],
          ["global", T0 + 200],
        ]);
      });

      it("keeps the global cutoff forward under concurrent moves", async () => {
        const other = await peer();
        const cutoffs = Array.from({ length: 20 }, (_, i) => T0 + ((i * 7) % 20) * SECOND);
        await Promise.all(cutoffs.map((c, i) => (i % 2 === 0 ? store : other).addRevocation(globalEntry(c))));
        expect((await store.check({}, T0 + DAY)).globalCutoff).toBe(Math.max(...cutoffs));
      });
    });

    describe("token lifetimes", () => {
      it("records the longest lifetimes ever used, only raising them, atomically across instances", async () => {
        const other = await peer();
        expect(await store.tokenLifetimes()).toEqual({ accessTokenTtlMs: 0, sessionTtlMs: 0 });
        expect(await store.tokenLifetimes({ accessTokenTtlMs: TTL, sessionTtlMs: DAY })).toEqual({
          accessTokenTtlMs: TTL,
          sessionTtlMs: DAY,
        });
        // A process with shorter lifetimes (a CLI with its defaults) lowers nothing.
        expect(await other.tokenLifetimes({ accessTokenTtlMs: MINUTE, sessionTtlMs: HOUR_MS })).toEqual({
          accessTokenTtlMs: TTL,
          sessionTtlMs: DAY,
        });
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? store : other).tokenLifetimes({ accessTokenTtlMs: TTL + i, sessionTtlMs: DAY - i }),
          ),
        );
        expect(await other.tokenLifetimes()).toEqual({ accessTokenTtlMs: TTL + 9, sessionTtlMs: DAY });
      });
    });

    describe("check", () => {
      it("answers point lookups straight from the store", async () => {
        const s = newSession();
        const live = newSession({ userId: s.userId });
        await store.createSession(s, hash());
        await store.createSession(live, hash());
        const jti = uid("jti");
        await store.addRevocation(jtiEntry(jti, T0, T0 + TTL));
        await store.revokeSession(s.id, meta(T0));
        expect(await store.check({ jti, sessionId: s.id }, T0 + 1)).toEqual({
          jtiRevoked: true,
          sessionRevoked: true,
          globalCutoff: 0,
          user: null,
        });
        expect(await store.check({ jti: uid("jti"), sessionId: live.id }, T0 + 1)).toEqual({
          jtiRevoked: false,
          sessionRevoked: false,
          globalCutoff: 0,
          user: null,
        });
        expect(await store.check({ sessionId: "no-such-session" }, T0 + 1)).toEqual({
          jtiRevoked: false,
          sessionRevoked: false,
          globalCutoff: 0,
          user: null,
        });
        // A jti entry ends at its expiry.
        expect((await store.check({ jti }, T0 + TTL - 1)).jtiRevoked).toBe(true);
        expect((await store.check({ jti }, T0 + TTL)).jtiRevoked).toBe(false);
        await store.addRevocation(globalEntry(T0 + 5));
        expect((await store.check({}, T0 + 10)).globalCutoff).toBe(T0 + 5);
        // The user's cutoff, for the user asked about.
        await store.cutOffUser(s.userId, meta(T0 + 20, "logout_all"), { exceptSessionId: live.id });
        expect((await store.check({ userId: s.userId }, T0 + 30)).user).toEqual({
          cutoff: T0 + 20,
          exceptSessionId: live.id,
        });
        expect((await store.check({ jti }, T0 + 30)).user).toBeNull();
      });
    });

    describe("snapshot", () => {
      it("holds only the active jti and session entries, the global cutoff, a cursor and the epoch", async () => {
        const empty = await store.snapshot(T0);
        expect(empty.entries).toEqual([]);
        expect(empty.globalCutoff).toBe(0);
        expect(typeof empty.cursor).toBe("string");
        expect(typeof empty.epoch).toBe("string");
        expect(empty.epoch.length).toBeGreaterThan(0);

        const now = T0 + HOUR_MS;
        const liveJti = uid("jti");
        const deadJti = uid("jti");
        await store.addRevocation(jtiEntry(liveJti, T0, now + 1));
        await store.addRevocation(jtiEntry(deadJti, T0, now));
        const liveSession = newSession();
        const deadSession = newSession();
        await store.createSession(liveSession, hash());
        await store.createSession(deadSession, hash());
        await store.revokeSession(liveSession.id, meta(now - MINUTE, "logout", 2 * MINUTE));
        await store.revokeSession(deadSession.id, meta(T0, "logout", MINUTE));
        const cutUser = uid("user");
        await store.cutOffUser(cutUser, meta(now - 1, "logout_all", DAY));
        await store.cutOffUser(uid("user"), meta(T0, "logout_all", MINUTE));
        await store.addRevocation(globalEntry(T0 + 7));

        const snap = await store.snapshot(now);
        expect(snap.globalCutoff).toBe(T0 + 7);
        expect(snap.epoch).toBe(empty.epoch);
        const summary = snap.entries.map((e) => [e.kind, e.subject, e.expiresAt]).sort();
        expect(summary).toEqual(
          [
            ["jti", liveJti, now + 1],
            ["session", liveSession.id, now + MINUTE],
            ["user", cutUser, now - 1 + DAY],
          ].sort(),
        );
        for (const e of snap.entries) expect(typeof e.seq).toBe("string");
        // The cursor is the feed position after everything in the snapshot.
        expect((await store.changes(snap.cursor, { waitMs: 0, limit: 100 })).entries).toEqual([]);
        const next = await store.addRevocation(jtiEntry(uid("jti"), now, now + TTL));
        const batch = await store.changes(snap.cursor, { waitMs: 0, limit: 100 });
        expect(batch.entries).toEqual([next]);
        expect(batch.epoch).toBe(snap.epoch);
      });

      it("streams the same active entries and head through snapshotInto, consistent with the feed", async () => {
        expect(typeof store.snapshotInto).toBe("function");
        const into = (at: number) => {
          const got: unknown[][] = [];
          const head = store.snapshotInto?.(at, (kind, subject, expiresAt, user) => {
            got.push(user ? [kind, subject, expiresAt, user] : [kind, subject, expiresAt]);
          });
          return head?.then((h) => ({ ...h, got }));
        };
        const empty = await into(T0);
        expect(empty?.got).toEqual([]);
        expect(empty?.globalCutoff).toBe(0);
        const now = T0 + HOUR_MS;
        const liveJti = uid("jti");
        await store.addRevocation(jtiEntry(liveJti, T0, now + 1));
        await store.addRevocation(jtiEntry(uid("jti"), T0, now));
        const session = newSession();
        await store.createSession(session, hash());
        await store.revokeSession(session.id, meta(now - MINUTE, "logout", 2 * MINUTE));
        await store.addRevocation(globalEntry(T0 + 9));
        const cutUser = uid("user");
        await store.cutOffUser(cutUser, meta(now - 2, "logout_all", DAY));
        await store.cutOffUser(cutUser, meta(now - 1, "logout_all", DAY));
        await store.cutOffUser(uid("user"), meta(T0, "logout_all", MINUTE));
        const streamed = await into(now);
        const snap = await store.snapshot(now);
        expect(streamed?.globalCutoff).toBe(T0 + 9);
        expect(streamed?.epoch).toBe(snap.epoch);
        expect(streamed?.cursor).toBe(snap.cursor);
        // An entry may come twice; what matters is the set, with the latest expiry.
        const unique = [...new Set(streamed?.got.map((g) => JSON.stringify(g)))]
          .map((g) => JSON.parse(g))
          .sort();
        expect(unique).toEqual(
          [
            ["jti", liveJti, now + 1],
            ["session", session.id, now + MINUTE],
            ["user", cutUser, now - 1 + DAY, { cutoff: now - 1, exceptSessionId: null }],
          ].sort(),
        );
        // Written after the head: from the feed at its cursor, not lost.
        const next = await store.addRevocation(jtiEntry(uid("jti"), now, now + TTL));
        expect((await store.changes(streamed?.cursor ?? "", { waitMs: 0, limit: 100 })).entries).toEqual([
          next,
        ]);
      });

      it("is consistent with the feed: nothing written concurrently falls between snapshot and cursor", async () => {
        const other = await peer();
        const jtis = Array.from({ length: 60 }, () => uid("jti"));
        const writes = jtis.map((j, i) =>
          (i % 2 === 0 ? store : other).addRevocation(jtiEntry(j, T0, T0 + TTL)),
        );
        const snapshots = [store.snapshot(T0 + 1), other.snapshot(T0 + 1)];
        await Promise.all(writes);
        for (const snap of await Promise.all(snapshots)) {
          const seen = new Set(snap.entries.map((e) => e.subject));
          for (const e of (await drain(store, snap.cursor)).entries) seen.add(e.subject);
          for (const j of jtis) expect(seen.has(j)).toBe(true);
        }
      });
    });

    describe("change feed", () => {
      it("returns entries in order, at most limit at a time, resuming exactly after the last one returned", async () => {
        const cursor = await startCursor(store);
        const jtis = Array.from({ length: 7 }, () => uid("jti"));
        for (const [i, j] of jtis.entries()) await store.addRevocation(jtiEntry(j, T0 + i, T0 + TTL));
        const b1 = await store.changes(cursor, { waitMs: 0, limit: 3 });
        expect(b1.entries.map((e) => e.subject)).toEqual(jtis.slice(0, 3));
        const b2 = await store.changes(b1.cursor, { waitMs: 0, limit: 3 });
        expect(b2.entries.map((e) => e.subject)).toEqual(jtis.slice(3, 6));
        // Repeating a call from the same cursor returns the same entries (a lost answer can be retried).
        expect((await store.changes(b1.cursor, { waitMs: 0, limit: 3 })).entries).toEqual(b2.entries);
        const b3 = await store.changes(b2.cursor, { waitMs: 0, limit: 3 });
        expect(b3.entries.map((e) => e.subject)).toEqual(jtis.slice(6));
        const b4 = await store.changes(b3.cursor, { waitMs: 0, limit: 3 });
        expect(b4.entries).toEqual([]);
        expect(b4.cursor).toBe(b3.cursor);
        expect(new Set([b1, b2, b3, b4].map((b) => b.epoch)).size).toBe(1);
        const seqs = [...b1.entries, ...b2.entries, ...b3.entries].map((e) => e.seq);
        expect(new Set(seqs).size).toBe(7);
      });

      it("delivers full entries of every kind", async () => {
        const cursor = await startCursor(store);
        const s = newSession();
        await store.createSession(s, hash());
        const jti = await store.addRevocation(jtiEntry(uid("jti"), T0, T0 + TTL));
        await store.revokeSession(s.id, meta(T0 + 1, "logout", TTL, "actor-1"));
        const global = await store.addRevocation(globalEntry(T0 + 2));
        const { entries } = await drain(store, cursor);
        expect(entries).toHaveLength(3);
        expect(entries[0]).toEqual(jti);
        expect(entries[1]).toMatchObject({
          kind: "session",
          subject: s.id,
          expiresAt: T0 + 1 + TTL,
          reason: "logout",
          actor: "actor-1",
          at: T0 + 1,
        });
        expect(entries[2]).toEqual(global);
        expect(entries[2]?.cutoff).toBe(T0 + 2);
      });

      it("resumes from a cursor without loss or duplicates while writes interleave with reads", async () => {
        const other = await peer();
        let cursor = await startCursor(store);
        const written: string[] = [];
        const read: string[] = [];
        for (let round = 0; round < 6; round++) {
          for (let i = 0; i < 5; i++) {
            const j = uid("jti");
            written.push(j);
            await (i % 2 === 0 ? store : other).addRevocation(jtiEntry(j, T0, T0 + TTL));
          }
          // Alternate readers: a cursor from one instance resumes on another (a reconnect).
          const reader = round % 2 === 0 ? store : other;
          const batch = await reader.changes(cursor, { waitMs: 0, limit: 3 });
          read.push(...batch.entries.map((e) => e.subject));
          cursor = batch.cursor;
        }
        read.push(...(await drain(other, cursor, 4)).entries.map((e) => e.subject));
        expect(read).toEqual(written);
      });

      it("never skips an entry when writers race a tailing reader", async () => {
        const other = await peer();
        const start = await startCursor(store);
        const jtis = Array.from({ length: 80 }, () => uid("jti"));
        let done = false;
        const seen: string[] = [];
        const tail = (async () => {
          let cursor = start;
          while (!done) {
            const batch = await store.changes(cursor, { waitMs: 20, limit: 7 });
            seen.push(...batch.entries.map((e) => e.subject));
            cursor = batch.cursor;
          }
          const rest = await drain(store, cursor);
          seen.push(...rest.entries.map((e) => e.subject));
        })();
        await Promise.all(
          jtis.map((j, i) => (i % 2 === 0 ? store : other).addRevocation(jtiEntry(j, T0, T0 + TTL))),
        );
        done = true;
        await tail;
        expect(seen).toHaveLength(jtis.length);
        expect([...seen].sort()).toEqual([...jtis].sort());
      });

      it("returns at once with waitMs 0 and an empty batch when nothing is new", async () => {
        const cursor = await startCursor(store);
        const batch = await store.changes(cursor, { waitMs: 0, limit: 10 });
        expect(batch.entries).toEqual([]);
        expect(batch.cursor).toBe(cursor);
      });

      it("long-polls: waits up to waitMs, then returns an empty batch", async () => {
        const cursor = await startCursor(store);
        const started = process.hrtime.bigint();
        const batch = await store.changes(cursor, { waitMs: 300, limit: 10 });
        expect(elapsedSince(started)).toBeGreaterThanOrEqual(250);
        expect(batch.entries).toEqual([]);
        expect(batch.cursor).toBe(cursor);
      });

      it("long-polls: wakes promptly when an entry is appended from elsewhere", async () => {
        const other = await peer();
        const cursor = await startCursor(store);
        const started = process.hrtime.bigint();
        const pending = store.changes(cursor, { waitMs: 20_000, limit: 10 });
        await new Promise((r) => setTimeout(r, 100));
        const jti = uid("jti");
        const entry = await other.addRevocation(jtiEntry(jti, T0, T0 + TTL));
        const batch = await pending;
        // Generous bound for a loaded machine; the wait itself was 20 s.
        expect(elapsedSince(started)).toBeLessThan(8_000);
        expect(batch.entries).toEqual([entry]);
        expect((await store.changes(batch.cursor, { waitMs: 0, limit: 10 })).entries).toEqual([]);
      });

      it("long-polls: wakes for a session revocation too", async () => {
        const other = await peer();
        const s = newSession();
        await store.createSession(s, hash());
        const cursor = await startCursor(store);
        const pending = store.changes(cursor, { waitMs: 20_000, limit: 10 });
        await new Promise((r) => setTimeout(r, 50));
        expect(await other.revokeSession(s.id, meta(T0 + 1))).toBe(true);
        const batch = await pending;
        expect(batch.entries.map((e) => [e.kind, e.subject])).toEqual([["session", s.id]]);
      });

      it("reports the same epoch from the feed as from the snapshot, on every instance", async () => {
        const other = await peer();
        const snap = await store.snapshot(T0);
        expect((await store.changes(snap.cursor, { waitMs: 0, limit: 1 })).epoch).toBe(snap.epoch);
        expect((await other.snapshot(T0)).epoch).toBe(snap.epoch);
      });
    });

    describe("checkpoints", () => {
      /** Checkpoints are optional in the contract; every built-in store keeps them. */
      function checkpoints(s: Store) {
        const { readCheckpoint, checkpointTakenAt, writeCheckpoint } = s;
        if (!readCheckpoint || !checkpointTakenAt || !writeCheckpoint)
          throw new Error(`${name} keeps no checkpoints`);
        return {
          read: () => readCheckpoint.call(s),
          takenAt: () => checkpointTakenAt.call(s),
          write: (takenAt: number, data: Uint8Array) => writeCheckpoint.call(s, { takenAt, data }),
        };
      }

      it("has none at first, keeps the bytes exactly, and keeps only the newest", async () => {
        const c = checkpoints(store);
        expect(await c.read()).toBeNull();
        expect(await c.takenAt()).toBe(0);
        const first = randomBytes(3 * 1024 * 1024 + 5); // a few MB, every byte value
        expect(await c.write(T0 + 1000, first)).toBe(true);
        const got = await c.read();
        expect(got?.takenAt).toBe(T0 + 1000);
        expect(Buffer.from(got?.data ?? []).equals(first)).toBe(true);
        expect(await c.takenAt()).toBe(T0 + 1000);
        // An older one, or one taken at the same moment, replaces nothing.
        expect(await c.write(T0 + 999, randomBytes(10))).toBe(false);
        expect(await c.write(T0 + 1000, randomBytes(10))).toBe(false);
        expect(Buffer.from((await c.read())?.data ?? []).equals(first)).toBe(true);
        const second = randomBytes(100);
        expect(await c.write(T0 + 2000, second)).toBe(true);
        expect(Buffer.from((await c.read())?.data ?? []).equals(second)).toBe(true);
        // Purging expired rows leaves it alone.
        await store.purge(T0 + 400 * DAY);
        expect(await c.takenAt()).toBe(T0 + 2000);
      });

      it("of concurrent writers from two connections, the newest stays", async () => {
        const a = checkpoints(store);
        const b = checkpoints(await peer());
        const written = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).write(T0 + 100 + i, Buffer.from([i]))),
        );
        expect(written.some(Boolean)).toBe(true);
        const got = await b.read();
        expect(got?.takenAt).toBe(T0 + 111);
        expect([...Buffer.from(got?.data ?? [])]).toEqual([11]);
      });
    });

    describe("purge", () => {
      it("deletes expired entries, sessions and refresh tokens, and keeps live ones", async () => {
        const now = T0 + 40 * DAY;
        const deadJti = uid("jti");
        const liveJti = uid("jti");
        await store.addRevocation(jtiEntry(deadJti, T0, T0 + TTL));
        await store.addRevocation(jtiEntry(liveJti, T0, now + TTL));
        const ended = newSession({ expiresAt: T0 + 30 * DAY });
        const endedHash = hash();
        await store.createSession(ended, endedHash);
        const live = newSession({
          createdAt: T0 + 20 * DAY,
          expiresAt: T0 + 50 * DAY,
          idleExpiresAt: T0 + 45 * DAY,
        });
        const liveHash = hash();
        await store.createSession(live, liveHash);
        const rotation = rotateInput(liveHash, T0 + 39 * DAY);
        expectRotated(await store.rotateRefreshToken(rotation));
        const revokedLive = newSession({ expiresAt: T0 + 50 * DAY, idleExpiresAt: T0 + 45 * DAY });
        await store.createSession(revokedLive, hash());
        await store.revokeSession(revokedLive.id, meta(T0 + 39 * DAY, "logout", 2 * DAY));
        const key = newKey();
        await store.addKey(key);
        await store.addRevocation(globalEntry(T0 + 1));
        const user: UserRecord = {
          id: uid("user"),
          username: uid("name"),
          passwordHash: "scrypt$x",
          createdAt: T0,
          disabledAt: null,
        };
        await store.createUser(user);

        const removed = await store.purge(now);
        expect(removed).toBeGreaterThan(0);
        expect(await store.getSession(ended.id)).toBeNull();
        expect(await store.findRefreshToken(endedHash)).toBeNull();
        expect((await store.getSession(live.id))?.generation).toBe(1);
        expect((await store.findRefreshToken(rotation.newHash))?.generation).toBe(1);
        // Superseded tokens of live sessions stay, or reuse could not be detected.
        expect((await store.findRefreshToken(liveHash))?.generation).toBe(0);
        expect((await store.rotateRefreshToken(rotateInput(liveHash, now))).status).toBe("reused");
        expect((await store.getSession(revokedLive.id))?.revokedAt).toBe(T0 + 39 * DAY);
        expect(await store.check({ jti: deadJti, sessionId: revokedLive.id }, now)).toEqual({
          jtiRevoked: false,
          sessionRevoked: true,
          globalCutoff: T0 + 1,
          user: null,
        });
        expect((await store.check({ jti: liveJti }, now)).jtiRevoked).toBe(true);
        const snap = await store.snapshot(now);
        expect(snap.entries.map((e) => e.subject).sort()).toEqual([liveJti, revokedLive.id, live.id].sort());
        expect(snap.globalCutoff).toBe(T0 + 1);
        expect(await store.listKeys()).toEqual([key]);
        expect((await store.getUser(user.id))?.id).toBe(user.id);
        expect(await store.purge(now)).toBe(0);
      });

      it("keeps a revoked session known to check() while its access tokens can live, even after the session ended", async () => {
        const s = newSession({ expiresAt: T0 + DAY, idleExpiresAt: T0 + DAY });
        await store.createSession(s, hash());
        // Revoked one minute before its end; its last access token lives 15 more minutes.
        await store.revokeSession(s.id, meta(T0 + DAY - MINUTE, "logout", TTL));
        const now = T0 + DAY + MINUTE;
        await store.purge(now);
        expect((await store.check({ sessionId: s.id }, now)).sessionRevoked).toBe(true);
        expect((await store.snapshot(now)).entries.map((e) => e.subject)).toContain(s.id);
        await store.purge(T0 + DAY + TTL);
        expect(await store.getSession(s.id)).toBeNull();
        expect((await store.snapshot(T0 + DAY + TTL)).entries).toEqual([]);
      });

      it("keeps the global cutoff forever", async () => {
        await store.addRevocation(globalEntry(T0 + 5));
        await store.purge(T0 + 365 * DAY);
        expect((await store.check({}, T0 + 365 * DAY)).globalCutoff).toBe(T0 + 5);
        expect((await store.snapshot(T0 + 365 * DAY)).globalCutoff).toBe(T0 + 5);
        expect(await store.addRevocation(globalEntry(T0 + 4))).toBeNull();
      });
    });

    describe("users", () => {
      function newUser(overrides: Partial<UserRecord> = {}): UserRecord {
        return {
          id: uid("user"),
          username: uid("name"),
          passwordHash: `scrypt$${randomBytes(8).toString("hex")}`,
          createdAt: T0,
          disabledAt: null,
          ...overrides,
        };
      }

      it("creates users with case-insensitively unique usernames, stored lower-cased", async () => {
        const alice = newUser({ username: "Alice.Example" });
        expect(await store.createUser(alice)).toBe("created");
        expect(await store.createUser(newUser({ username: "ALICE.example" }))).toBe("taken");
        expect(await store.createUser(newUser({ username: "alice.example" }))).toBe("taken");
        const expected = { ...alice, username: "alice.example" };
        expect(await store.getUser(alice.id)).toEqual(expected);
        expect(await store.getUserByName("ALICE.EXAMPLE")).toEqual(expected);
        expect(await store.getUserByName("alice.example")).toEqual(expected);
        expect(await store.getUserByName("bob")).toBeNull();
        expect(await store.getUser("no-such-user")).toBeNull();
      });

      it("lets exactly one of concurrent creations of one name win", async () => {
        const other = await peer();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : other).createUser(newUser({ username: i % 3 === 0 ? "Carol" : "carol" })),
          ),
        );
        expect(results.filter((r) => r === "created")).toHaveLength(1);
        expect(await store.listUsers()).toHaveLength(1);
      });

      it("lists users by username", async () => {
        const names = ["mallory", "Bob", "alice", "dave"];
        for (const n of names) await store.createUser(newUser({ username: n }));
        expect((await store.listUsers()).map((u) => u.username)).toEqual(["alice", "bob", "dave", "mallory"]);
      });

      it("replaces a password hash, and reports an unknown user", async () => {
        const u = newUser();
        await store.createUser(u);
        expect(await store.setPasswordHash(u.id, "scrypt$new")).toBe(true);
        expect((await store.getUser(u.id))?.passwordHash).toBe("scrypt$new");
        expect(await store.setPasswordHash("no-such-user", "scrypt$new")).toBe(false);
        expect(await store.getUser("no-such-user")).toBeNull();
      });

      it("deletes a user idempotently and frees the name", async () => {
        const u = newUser({ username: "erin" });
        await store.createUser(u);
        await store.deleteUser(u.id);
        await store.deleteUser(u.id);
        expect(await store.getUser(u.id)).toBeNull();
        expect(await store.getUserByName("erin")).toBeNull();
        expect(await store.listUsers()).toEqual([]);
        expect(await store.createUser(newUser({ username: "Erin" }))).toBe("created");
      });

      it("shows when a user was disabled, and null again once enabled", async () => {
        const u = newUser();
        await store.createUser(u);
        await store.cutOffUser(u.id, meta(T0 + MINUTE, "user_disabled"), { disable: true });
        expect((await store.getUser(u.id))?.disabledAt).toBe(T0 + MINUTE);
        expect((await store.getUserByName(u.username))?.disabledAt).toBe(T0 + MINUTE);
        expect((await store.listUsers())[0]?.disabledAt).toBe(T0 + MINUTE);
        await store.enableUser(u.id);
        expect((await store.getUser(u.id))?.disabledAt).toBeNull();
      });
    });

    describe("clients", () => {
      it("adds, reads, lists and removes clients", async () => {
        const confidential = { clientId: "zeta-service", secretHash: "scrypt$abc", createdAt: T0 };
        const pub = { clientId: "alpha-spa", secretHash: null, createdAt: T0 + 1 };
        expect(await store.addClient(confidential)).toBe("created");
        expect(await store.addClient(pub)).toBe("created");
        expect(await store.addClient({ ...pub, secretHash: "scrypt$other" })).toBe("exists");
        expect(await store.getClient("alpha-spa")).toEqual(pub);
        expect(await store.getClient("zeta-service")).toEqual(confidential);
        expect(await store.getClient("nope")).toBeNull();
        expect(await store.listClients()).toEqual([pub, confidential]);
        expect(await store.removeClient("alpha-spa")).toBe(true);
        expect(await store.removeClient("alpha-spa")).toBe(false);
        expect(await store.getClient("alpha-spa")).toBeNull();
        expect(await store.listClients()).toEqual([confidential]);
      });
    });

    describe("rate limits", () => {
      const W = 15 * MINUTE;

      it("counts hits in a fixed window that starts at the first hit", async () => {
        const key = uid("login");
        expect(await store.hitRateLimit(key, W, T0)).toEqual({ count: 1, resetAt: T0 + W });
        expect(await store.hitRateLimit(key, W, T0 + MINUTE)).toEqual({ count: 2, resetAt: T0 + W });
        expect(await store.peekRateLimit(key, T0 + 2 * MINUTE)).toEqual({ count: 2, resetAt: T0 + W });
        expect((await store.peekRateLimit(key, T0 + 2 * MINUTE)).count).toBe(2);
        expect(await store.hitRateLimit(key, W, T0 + W - 1)).toEqual({ count: 3, resetAt: T0 + W });
        // The window ends at resetAt: the next hit opens a new one.
        expect((await store.peekRateLimit(key, T0 + W)).count).toBe(0);
        expect(await store.hitRateLimit(key, W, T0 + W)).toEqual({ count: 1, resetAt: T0 + 2 * W });
        expect((await store.peekRateLimit(uid("other"), T0)).count).toBe(0);
      });

      it("keeps keys apart and resets a counter idempotently", async () => {
        const a = uid("a");
        const b = uid("b");
        await store.hitRateLimit(a, W, T0);
        await store.hitRateLimit(a, W, T0);
        await store.hitRateLimit(b, W, T0);
        await store.resetRateLimit(a);
        await store.resetRateLimit(a);
        await store.resetRateLimit(uid("never"));
        expect((await store.peekRateLimit(a, T0 + 1)).count).toBe(0);
        expect((await store.peekRateLimit(b, T0 + 1)).count).toBe(1);
        expect(await store.hitRateLimit(a, W, T0 + 2)).toEqual({ count: 1, resetAt: T0 + 2 + W });
      });

      it("counts concurrent hits exactly", async () => {
        const other = await peer();
        const key = uid("burst");
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (i % 2 === 0 ? store : other).hitRateLimit(key, W, T0 + (i % 5)),
          ),
        );
        expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        expect(new Set(results.map((r) => r.resetAt)).size).toBe(1);
        expect((await store.peekRateLimit(key, T0 + 10)).count).toBe(50);
      });
    });
  });
}
