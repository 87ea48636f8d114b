import { randomBytes } from "node:crypto";
import { StoreMissingError } from "../core/errors.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationEntry,
  RevocationMeta,
  RevocationSnapshot,
  RotateInput,
  RotateResult,
  SessionRecord,
  SnapshotHead,
  SnapshotSink,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
  UserRecord,
} from "../core/model.js";
import { checkOptionNames } from "../core/options.js";
import {
  applyRevocation,
  applyRotation,
  decideRotation,
  isEndedByUserCutoff,
  isSessionLive,
} from "../core/refresh.js";
import { mergeUserCutoff } from "../core/user-cutoff.js";
import type { Store, StoreOpenOptions } from "./contract.js";

/**
 * An in-process {@link Store} for tests and development. **Not durable**: everything is lost when the
 * process exits, and it cannot be shared between processes. Several `Auth` instances in one process
 * may share one memory store (the change feed then works between them).
 */
export function memoryStore(options: Record<string, never> = {}): Store {
  if (typeof options !== "object" || options === null)
    throw new TypeError("memoryStore: options must be an object");
  checkOptionNames("memoryStore", options, []);
  return new MemoryStore();
}

interface TokenRow {
  sessionId: string;
  generation: number;
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly durable = false;
  readonly #epoch = randomBytes(8).toString("hex");
  readonly #keys = new Map<string, StoredKey>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #userSessions = new Map<string, Set<string>>();
  readonly #tokens = new Map<string, TokenRow>();
  /** Disabled users and when they were disabled. */
  readonly #disabled = new Map<string, number>();
  /** Each user's cutoff and until when it must be kept. */
  readonly #cutoffs = new Map<string, UserCutoff & { expiresAt: number }>();
  /** The newest `createdAt` among each user's sessions (kept at creation, never by a loop). */
  readonly #newest = new Map<string, number>();
  readonly #log: RevocationEntry[] = [];
  readonly #jtis = new Map<string, number>();
  #seq = 0;
  #globalCutoff = 0;
  readonly #lifetimes: TokenLifetimes = { accessTokenTtlMs: 0, sessionTtlMs: 0 };
  readonly #users = new Map<string, UserRecord>();
  readonly #clients = new Map<string, ClientRecord>();
  readonly #rates = new Map<string, { count: number; resetAt: number }>();
  readonly #waiters = new Set<() => void>();
  #closed = false;
  /** Whether `open()` ever ran with creation allowed: a new memory store holds nothing to administer. */
  #initialised = false;

  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (options.create === false && !this.#initialised) {
      throw new StoreMissingError(
        "a new memory store is empty: there is nothing to open without creating it",
      );
    }
    this.#initialised = true;
    this.#closed = false;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#notify();
  }

  // ---- keys
  async listKeys(): Promise<StoredKey[]> {
    return [...this.#keys.values()].sort((a, b) => a.createdAt - b.createdAt).map((k) => structuredClone(k));
  }

  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    if (this.#keys.has(key.kid)) return false;
    if (options?.ifNoKeyFor && [...this.#keys.values()].some((k) => k.alg === options.ifNoKeyFor))
      return false;
    this.#keys.set(key.kid, structuredClone(key));
    return true;
  }

  async deleteKey(kid: string): Promise<void> {
    this.#keys.delete(kid);
  }

  // ---- sessions
  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    const cut = this.#cutoffs.get(session.userId);
    if (cut && session.createdAt <= cut.cutoff) return "cut_off";
    if (this.#disabled.has(session.userId)) return "user_disabled";
    this.#sessions.set(session.id, structuredClone(session));
    this.#newest.set(session.userId, Math.max(this.#newest.get(session.userId) ?? 0, session.createdAt));
    let set = this.#userSessions.get(session.userId);
    if (!set) this.#userSessions.set(session.userId, (set = new Set()));
    set.add(session.id);
    this.#tokens.set(refreshHash, { sessionId: session.id, generation: session.generation });
    return "created";
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const s = this.#sessions.get(id);
    return s ? structuredClone(s) : null;
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of this.#userSessions.get(userId) ?? []) {
      const s = this.#sessions.get(id);
      if (s && isSessionLive(s, now, this.#globalCutoff, this.#userCutoff(userId)))
        out.push(structuredClone(s));
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of this.#userSessions.get(userId) ?? []) {
      const s = this.#sessions.get(id);
      if (s && isEndedByUserCutoff(s, cutoff)) out.push(structuredClone(s));
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const row = this.#tokens.get(input.presentedHash);
    const session = row && this.#sessions.get(row.sessionId);
    if (!row || !session) return { status: "unknown" };
    const decision = decideRotation(
      session,
      row.generation,
      input.now,
      input.graceMs,
      this.#globalCutoff,
      this.#userCutoff(session.userId),
    );
    switch (decision) {
      case "rotate": {
        const next = applyRotation(session, input.now, input.idleTtlMs);
        this.#sessions.set(session.id, next);
        this.#tokens.set(input.newHash, { sessionId: session.id, generation: next.generation });
        return { status: "rotated", session: structuredClone(next), grace: false };
      }
      case "grace":
        this.#tokens.set(input.newHash, { sessionId: session.id, generation: session.generation });
        return { status: "rotated", session: structuredClone(session), grace: true };
      case "reuse": {
        const revoked = this.#revoke(session, input.reuseMeta);
        return { status: "reused", session: structuredClone(revoked) };
      }
      default:
        return { status: decision, session: structuredClone(session) };
    }
  }

  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    const row = this.#tokens.get(hash);
    const session = row && this.#sessions.get(row.sessionId);
    return row && session ? { session: structuredClone(session), generation: row.generation } : null;
  }

  #revoke(session: SessionRecord, meta: RevocationMeta): SessionRecord {
    const revoked = applyRevocation(session, meta.at, meta.reason);
    this.#sessions.set(session.id, revoked);
    this.#append({
      kind: "session",
      subject: session.id,
      expiresAt: meta.at + meta.ttl,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    });
    return revoked;
  }

  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    const s = this.#sessions.get(sessionId);
    if (!s || s.revokedAt !== null) return false;
    this.#revoke(s, meta);
    return true;
  }

  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    if (options?.disable && !this.#disabled.has(userId)) this.#disabled.set(userId, meta.at);
    const prev = this.#userCutoff(userId);
    const except = options?.exceptSessionId ?? null;
    const kept = except === null ? undefined : this.#sessions.get(except);
    const next = mergeUserCutoff(
      prev,
      { cutoff: Math.max(meta.at, this.#newest.get(userId) ?? 0), exceptSessionId: except },
      kept && kept.userId === userId ? kept.createdAt : null,
    );
    const expiresAt = Math.max(meta.at + meta.ttl, this.#cutoffs.get(userId)?.expiresAt ?? 0);
    this.#cutoffs.set(userId, { ...next, expiresAt });
    this.#append({
      kind: "user",
      subject: userId,
      cutoff: next.cutoff,
      ...(next.exceptSessionId === null ? {} : { exceptSessionId: next.exceptSessionId }),
      expiresAt,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    });
    return { ...next };
  }

  /** The user's cutoff, `null` when none. */
  #userCutoff(userId: string): UserCutoff | null {
    const c = this.#cutoffs.get(userId);
    return c ? { cutoff: c.cutoff, exceptSessionId: c.exceptSessionId } : null;
  }

  async enableUser(userId: string): Promise<void> {
    this.#disabled.delete(userId);
  }

  async isUserDisabled(userId: string): Promise<boolean> {
    return this.#disabled.has(userId);
  }

  // ---- revocations and feed
  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind === "global") {
      const cutoff = entry.cutoff ?? 0;
      if (cutoff <= this.#globalCutoff) return null;
      this.#globalCutoff = cutoff;
      return this.#append(entry);
    }
    if (entry.kind !== "jti")
      throw new TypeError(`addRevocation takes jti or global entries, not ${entry.kind}`);
    const prev = this.#jtis.get(entry.subject);
    if (prev !== undefined && prev >= entry.expiresAt) return null;
    this.#jtis.set(entry.subject, entry.expiresAt);
    return this.#append(entry);
  }

  #append(entry: NewRevocation): RevocationEntry {
    const full: RevocationEntry = { ...entry, seq: String(++this.#seq) };
    this.#log.push(full);
    this.#notify();
    return structuredClone(full);
  }

  #notify(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  async snapshot(now: number): Promise<RevocationSnapshot> {
    const entries = this.#log.filter((e) => (e.kind === "jti" || e.kind === "session") && e.expiresAt > now);
    for (const [userId, c] of this.#cutoffs) if (c.expiresAt > now) entries.push(userEntry(userId, c));
    return {
      entries: structuredClone(entries),
      globalCutoff: this.#globalCutoff,
      cursor: String(this.#seq),
      epoch: this.#epoch,
    };
  }

  /** The lean snapshot: every active jti and session entry to `apply`, then the head. */
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    for (const e of this.#log) {
      if ((e.kind === "jti" || e.kind === "session") && e.expiresAt > now)
        apply(e.kind, e.subject, e.expiresAt);
    }
    for (const [userId, c] of this.#cutoffs) {
      if (c.expiresAt > now)
        apply("user", userId, c.expiresAt, { cutoff: c.cutoff, exceptSessionId: c.exceptSessionId });
    }
    return { globalCutoff: this.#globalCutoff, cursor: String(this.#seq), epoch: this.#epoch };
  }

  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const after = Number(cursor) || 0;
    if (after >= this.#seq && options.waitMs > 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        // A long poll must not keep the process alive: a script that forgets close() still ends.
        const timer = setTimeout(done, options.waitMs);
        timer.unref();
        this.#waiters.add(done);
      });
    }
    const entries = this.#log.filter((e) => Number(e.seq) > after).slice(0, options.limit);
    const last = entries.at(-1);
    return {
      entries: structuredClone(entries),
      cursor: last ? last.seq : String(Math.max(after, 0)),
      epoch: this.#epoch,
    };
  }

  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    const jtiExp = query.jti === undefined ? undefined : this.#jtis.get(query.jti);
    const s = query.sessionId === undefined ? undefined : this.#sessions.get(query.sessionId);
    return {
      jtiRevoked: jtiExp !== undefined && jtiExp > now,
      sessionRevoked: s !== undefined && s.revokedAt !== null,
      globalCutoff: this.#globalCutoff,
      user: query.userId === undefined ? null : this.#userCutoff(query.userId),
    };
  }

  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    if (record) {
      this.#lifetimes.accessTokenTtlMs = Math.max(this.#lifetimes.accessTokenTtlMs, record.accessTokenTtlMs);
      this.#lifetimes.sessionTtlMs = Math.max(this.#lifetimes.sessionTtlMs, record.sessionTtlMs);
    }
    return { ...this.#lifetimes };
  }

  async purge(now: number): Promise<number> {
    let n = 0;
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const e = this.#log[i] as RevocationEntry;
      if (e.kind !== "global" && e.expiresAt <= now) {
        this.#log.splice(i, 1);
        n++;
      }
    }
    for (const [jti, exp] of this.#jtis) if (exp <= now) this.#jtis.delete(jti) && n++;
    for (const [userId, c] of this.#cutoffs) if (c.expiresAt <= now) this.#cutoffs.delete(userId) && n++;
    // A revoked session stays until its feed entry expires too: its access tokens may outlive it.
    const revokedLive = new Set<string>();
    for (const e of this.#log) if (e.kind === "session") revokedLive.add(e.subject);
    const gone = new Set<string>();
    for (const [id, s] of this.#sessions) {
      if (s.expiresAt <= now && !revokedLive.has(id)) {
        this.#sessions.delete(id);
        this.#userSessions.get(s.userId)?.delete(id);
        gone.add(id);
        n++;
      }
    }
    for (const [hash, row] of this.#tokens) if (gone.has(row.sessionId)) this.#tokens.delete(hash) && n++;
    for (const [key, r] of this.#rates) if (r.resetAt <= now) this.#rates.delete(key);
    return n;
  }

  // ---- users
  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    const name = user.username.toLowerCase();
    for (const u of this.#users.values()) if (u.username === name) return "taken";
    this.#users.set(user.id, { ...user, username: name });
    if (user.disabledAt !== null && !this.#disabled.has(user.id))
      this.#disabled.set(user.id, user.disabledAt);
    return "created";
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const u = this.#users.get(id);
    return u ? this.#withFlag(u) : null;
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    const name = username.toLowerCase();
    for (const u of this.#users.values()) if (u.username === name) return this.#withFlag(u);
    return null;
  }

  #withFlag(u: UserRecord): UserRecord {
    return { ...u, disabledAt: this.#disabled.get(u.id) ?? null };
  }

  async listUsers(): Promise<UserRecord[]> {
    return [...this.#users.values()]
      .map((u) => this.#withFlag(u))
      .sort((a, b) => a.username.localeCompare(b.username));
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    const u = this.#users.get(userId);
    if (!u) return false;
    this.#users.set(userId, { ...u, passwordHash });
    return true;
  }

  async deleteUser(userId: string): Promise<void> {
    this.#users.delete(userId);
  }

  // ---- clients
  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    if (this.#clients.has(client.clientId)) return "exists";
    this.#clients.set(client.clientId, { ...client });
    return "created";
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const c = this.#clients.get(clientId);
    return c ? { ...c } : null;
  }

  async listClients(): Promise<ClientRecord[]> {
    return [...this.#clients.values()]
      .map((c) => ({ ...c }))
      .sort((a, b) => a.clientId.localeCompare(b.clientId));
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#clients.delete(clientId);
  }

  // ---- rate limits
  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    let r = this.#rates.get(key);
    if (!r || r.resetAt <= now) this.#rates.set(key, (r = { count: 0, resetAt: now + windowMs }));
    r.count++;
    return { ...r };
  }

  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    const r = this.#rates.get(key);
    return r && r.resetAt > now ? { ...r } : { count: 0, resetAt: now };
  }

  async resetRateLimit(key: string): Promise<void> {
    this.#rates.delete(key);
  }
}

/** The feed form of a user's recorded cutoff (as in a snapshot: no seq of its own). */
function userEntry(userId: string, c: UserCutoff & { expiresAt: number }): RevocationEntry {
  return {
    seq: "",
    kind: "user",
    subject: userId,
    cutoff: c.cutoff,
    ...(c.exceptSessionId === null ? {} : { exceptSessionId: c.exceptSessionId }),
    expiresAt: c.expiresAt,
    reason: "user_cutoff",
    actor: "system",
    at: c.cutoff,
  };
}
