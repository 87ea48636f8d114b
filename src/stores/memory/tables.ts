/**
 * The data of a memory store: plain maps, one per table of the durable stores. The modules of the
 * store (`sessions.ts`, `feed.ts`, `keys.ts`, `accounts.ts`) are functions over these tables; a call
 * runs to completion without awaiting, so each one is atomic like a transaction.
 */
import { randomBytes } from "node:crypto";
import type {
  ClientRecord,
  RevocationCheckpoint,
  RevocationEntry,
  SessionRecord,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
  UserRecord,
} from "../../core/model.js";

/** Where a refresh-token hash points. */
export interface TokenRow {
  sessionId: string;
  generation: number;
}

/** Every table of one memory store. */
export interface MemoryTables {
  /** Identity of this store's data (a new store, a new epoch). */
  readonly epoch: string;
  readonly keys: Map<string, StoredKey>;
  readonly sessions: Map<string, SessionRecord>;
  /** Each user's session ids. */
  readonly userSessions: Map<string, Set<string>>;
  /** Refresh-token hash to session and generation. */
  readonly tokens: Map<string, TokenRow>;
  /** Disabled users and when they were disabled. */
  readonly disabled: Map<string, number>;
  /** Each user's cutoff and until when it must be kept. */
  readonly cutoffs: Map<string, UserCutoff & { expiresAt: number }>;
  /** The newest `createdAt` among each user's sessions (kept at creation, never by a loop). */
  readonly newest: Map<string, number>;
  /** The feed, in `seq` order. */
  readonly log: RevocationEntry[];
  /** Each revoked jti and until when. */
  readonly jtis: Map<string, number>;
  /** The last `seq` handed out. */
  seq: number;
  globalCutoff: number;
  readonly lifetimes: TokenLifetimes;
  readonly users: Map<string, UserRecord>;
  readonly clients: Map<string, ClientRecord>;
  readonly rates: Map<string, { count: number; resetAt: number }>;
  /** The newest checkpoint (a private copy of the bytes). */
  checkpoint: RevocationCheckpoint | null;
  /** Waiting long polls, woken by every feed append and by close. */
  readonly waiters: Set<() => void>;
  closed: boolean;
}

/** The empty tables of a new store. */
export function newTables(): MemoryTables {
  return {
    epoch: randomBytes(8).toString("hex"),
    keys: new Map(),
    sessions: new Map(),
    userSessions: new Map(),
    tokens: new Map(),
    disabled: new Map(),
    cutoffs: new Map(),
    newest: new Map(),
    log: [],
    jtis: new Map(),
    seq: 0,
    globalCutoff: 0,
    lifetimes: { accessTokenTtlMs: 0, sessionTtlMs: 0 },
    users: new Map(),
    clients: new Map(),
    rates: new Map(),
    checkpoint: null,
    waiters: new Set(),
    closed: false,
  };
}
