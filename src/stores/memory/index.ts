/**
 * The in-process store: plain maps (`tables.ts`) with the same modules as the durable stores
 * (`sessions.ts`, `feed.ts`, `keys.ts`, `accounts.ts`). This module is the composition: the factory,
 * the lifecycle, and one line per contract method. Every call completes without awaiting, so each
 * one is atomic.
 */
import { StoreMissingError } from "../../core/errors.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationCheckpoint,
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
} from "../../core/model.js";
import { checkOptionNames } from "../../core/options.js";
import type { Store, StoreOpenOptions } from "../contract.js";
import * as accounts from "./accounts.js";
import * as checkpoint from "./checkpoint.js";
import * as feed from "./feed.js";
import * as keys from "./keys.js";
import * as sessions from "./sessions.js";
import { newTables } from "./tables.js";

/**
 * An in-process {@link Store} for tests and development. **Not durable**: everything is lost when the
 * process exits, and it cannot be shared between processes. Several `Auth` instances in one process
 * may share one memory store (the change feed then works between them).
 * @example
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: memoryStore() });
 */
export function memoryStore(options: Record<string, never> = {}): Store {
  if (typeof options !== "object" || options === null)
    throw new TypeError("memoryStore: options must be an object");
  checkOptionNames("memoryStore", options, []);
  return new MemoryStore();
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly durable = false;
  readonly #t = newTables();
  /** Whether `open()` ever ran with creation allowed: a new memory store holds nothing to administer. */
  #initialised = false;

  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (options.create === false && !this.#initialised) {
      throw new StoreMissingError(
        "a new memory store is empty: there is nothing to open without creating it",
      );
    }
    this.#initialised = true;
    this.#t.closed = false;
  }

  async close(): Promise<void> {
    this.#t.closed = true;
    feed.wakeAll(this.#t);
  }

  // ---- keys -------------------------------------------------------------------------------------

  async listKeys(): Promise<StoredKey[]> {
    return keys.listKeys(this.#t);
  }
  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return keys.addKey(this.#t, key, options);
  }
  async deleteKey(kid: string): Promise<void> {
    keys.deleteKey(this.#t, kid);
  }

  // ---- sessions and the user grain --------------------------------------------------------------

  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return sessions.createSession(this.#t, session, refreshHash);
  }
  async getSession(id: string): Promise<SessionRecord | null> {
    return sessions.getSession(this.#t, id);
  }
  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return sessions.listUserSessions(this.#t, userId, now);
  }
  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return sessions.listSessionsCutOff(this.#t, userId, cutoff);
  }
  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    return sessions.rotateRefreshToken(this.#t, input);
  }
  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return sessions.findRefreshToken(this.#t, hash);
  }
  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    return sessions.revokeSession(this.#t, sessionId, meta);
  }
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    return sessions.cutOffUser(this.#t, userId, meta, options);
  }
  async enableUser(userId: string): Promise<void> {
    sessions.enableUser(this.#t, userId);
  }
  async isUserDisabled(userId: string): Promise<boolean> {
    return sessions.isUserDisabled(this.#t, userId);
  }

  // ---- revocations and the change feed ----------------------------------------------------------

  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    return feed.addRevocation(this.#t, entry);
  }
  async snapshot(now: number): Promise<RevocationSnapshot> {
    return feed.snapshot(this.#t, now);
  }
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    return feed.snapshotInto(this.#t, now, apply);
  }
  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    return feed.changes(this.#t, cursor, options);
  }
  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    return feed.check(this.#t, query, now);
  }
  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return feed.tokenLifetimes(this.#t, record);
  }
  async purge(now: number): Promise<number> {
    return feed.purge(this.#t, now);
  }

  // ---- checkpoints -------------------------------------------------------------------------------

  async readCheckpoint(): Promise<RevocationCheckpoint | null> {
    return checkpoint.readCheckpoint(this.#t);
  }
  async checkpointTakenAt(): Promise<number> {
    return checkpoint.checkpointTakenAt(this.#t);
  }
  async writeCheckpoint(value: RevocationCheckpoint): Promise<boolean> {
    return checkpoint.writeCheckpoint(this.#t, value);
  }

  // ---- accounts: users, clients, rate limits ----------------------------------------------------

  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return accounts.createUser(this.#t, user);
  }
  async getUser(id: string): Promise<UserRecord | null> {
    return accounts.getUser(this.#t, id);
  }
  async getUserByName(username: string): Promise<UserRecord | null> {
    return accounts.getUserByName(this.#t, username);
  }
  async listUsers(): Promise<UserRecord[]> {
    return accounts.listUsers(this.#t);
  }
  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return accounts.setPasswordHash(this.#t, userId, passwordHash);
  }
  async deleteUser(userId: string): Promise<void> {
    accounts.deleteUser(this.#t, userId);
  }
  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return accounts.addClient(this.#t, client);
  }
  async getClient(clientId: string): Promise<ClientRecord | null> {
    return accounts.getClient(this.#t, clientId);
  }
  async listClients(): Promise<ClientRecord[]> {
    return accounts.listClients(this.#t);
  }
  async removeClient(clientId: string): Promise<boolean> {
    return accounts.removeClient(this.#t, clientId);
  }
  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    return accounts.hitRateLimit(this.#t, key, windowMs, now);
  }
  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return accounts.peekRateLimit(this.#t, key, now);
  }
  async resetRateLimit(key: string): Promise<void> {
    accounts.resetRateLimit(this.#t, key);
  }
}
