import { StoreUnavailableError } from "../core/errors.js";
import type { RevocationFacts } from "../core/evaluate.js";
import { keyWithdrawalSubject, withdrawnKid } from "../core/keys.js";
import type { RevocationEntry, UserCutoff } from "../core/model.js";
import { laterUserCutoff } from "../core/user-cutoff.js";
import { loadCheckpoint } from "./checkpoint.js";
import { CompactIndex } from "./compact-index.js";
import type { RevocationFeed } from "./feed.js";
import type { RevocationIndex } from "./index.js";
import { encodeSnapshot } from "./snapshot-codec.js";

/** Options of {@link Replica}. */
export interface ReplicaOptions {
  /** The clock, ms. */
  now: () => number;
  /** How old the last confirmation from the store may be before the replica counts as stale, ms. */
  maxStalenessMs: number;
  /** Called when the store's data was found lost (its epoch changed); the replica has already cut off. */
  onDataLoss?: (cutoff: number) => void;
  /** Called on every feed error (the loop retries by itself). */
  onError?: (error: unknown) => void;
  /**
   * How long after its cutoff a user's cutoff is kept here, ms (read at each apply). A replica checks
   * access tokens only, and no access token of a session the cutoff ended outlives the longest
   * access-token life after it (refresh tokens are checked in the store). Default: as the entry says.
   */
  userCutoffTtlMs?: () => number;
  /** Index factory. Default: a {@link CompactIndex} (typed arrays, about 40 bytes an entry). */
  createIndex?: () => RevocationIndex;
  /**
   * Called shortly after every entry the change feed brings (not the snapshot), with the time it
   * arrived; `remote` is false for an entry this node applied itself (its own revocation coming back:
   * the feed may deliver it a moment before the writing call returns, hence the short delay). For
   * metrics.
   */
  onFeedEntry?: (entry: RevocationEntry, remote: boolean, arrivedAt: number) => void;
  /** Called when a signing key is withdrawn (from the feed, a snapshot, or locally), once per kid. */
  onKeyWithdrawn?: (kid: string) => void;
  /**
   * How often this replica writes a checkpoint to the store when the newest there is older (stores
   * that keep checkpoints), ms; 0 or absent: never (a new node then reads every revocation).
   */
  checkpointIntervalMs?: number;
}

/** Diagnostic state of a replica. */
export interface ReplicaStatus {
  /** Active `jti` entries held. */
  tokens: number;
  /** Active `session` entries held. */
  sessions: number;
  /** Active user cutoffs held. */
  users: number;
  globalCutoff: number;
  /** Milliseconds since the store last confirmed the replica was current. */
  lagMs: number;
  /** Whether `lagMs <= maxStaleness`. */
  fresh: boolean;
  cursor: string;
  epoch: string;
  /** Last feed error message, or `null` once the feed works again. */
  lastError: string | null;
  /**
   * Whether a complete snapshot is in memory. `false` while the first one (or one after a data loss)
   * loads in the background; the replica is then not fresh and `verify` asks the store.
   */
  loaded: boolean;
  /** Where the loaded content came from: the store's newest checkpoint and the feed after it, or a full read. `null` until loaded. */
  loadedFrom: "checkpoint" | "snapshot" | null;
}

/** What {@link Replica.exportSnapshot} returns: a replica's content and position at one moment. */
export interface ReplicaSnapshot {
  /** Active `jti` and `session` entries: ids as raw words, as {@link CompactIndex.exportWords} gives them. */
  jtis: ReturnType<CompactIndex["exportWords"]>;
  sessions: ReturnType<CompactIndex["exportWords"]>;
  /** Other rows, as a store's snapshot sink gets them: user cutoffs and key withdrawals. */
  rows: unknown[][];
  globalCutoff: number;
  cursor: string;
  epoch: string;
}

const SWEEP_INTERVAL_MS = 1000;
/** Most own entries remembered until the feed brings them back (for the remote/local metric). */
const MINE_MAX = 100_000;
/** How long a feed entry waits for the local write that may have produced it to return. */
const OWN_ENTRY_WAIT_MS = 50;
const SWEEP_BUDGET = 20_000;
const BATCH = 1000;

/**
 * The in-memory copy of the active revocations that `verify` reads. It loads a snapshot, then follows
 * the store's change feed with long polls; every answer from the store confirms freshness as of the
 * moment the call started. Entries expire by themselves; an incremental sweep frees their memory.
 */
export class Replica {
  readonly jtis: RevocationIndex;
  readonly sessions: RevocationIndex;
  /** Each user's latest cutoff, until it covers no session that could still be refreshed. */
  readonly #users = new Map<string, UserCutoff & { expiresAt: number }>();
  /** Withdrawn signing keys (kid to the end of the withdrawal): a handful at most. */
  readonly withdrawnKeys = new Map<string, number>();
  #globalCutoff = 0;
  #cursor = "";
  #epoch = "";
  #confirmedAt = Number.NEGATIVE_INFINITY;
  #lastError: string | null = null;
  #loaded = false;
  #loadedFrom: "checkpoint" | "snapshot" | null = null;
  #closed = false;
  /** The cutoff of a data loss being handled, until the snapshot after it loads: one per loss. */
  #lossCutoff: number | undefined;
  readonly #ready: Promise<void>;
  #settleReady: ((error?: Error) => void) | undefined;
  #signalClosing: (() => void) | undefined;
  readonly #closing = new Promise<void>((resolve) => {
    this.#signalClosing = resolve;
  });
  #loop: Promise<void> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #store: RevocationFeed;
  readonly #opts: ReplicaOptions;
  readonly #waitMs: number;

  constructor(store: RevocationFeed, options: ReplicaOptions) {
    this.#store = store;
    this.#opts = options;
    const create = options.createIndex ?? (() => new CompactIndex());
    this.jtis = create();
    this.sessions = create();
    // Long polls short enough that a quiet feed still confirms freshness well within the bound.
    this.#waitMs = Math.max(5, Math.min(250, Math.floor(options.maxStalenessMs / 4)));
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (error) => {
        this.#settleReady = undefined;
        if (error) reject(error);
        else resolve();
      };
    });
    this.#ready.catch(() => undefined); // nobody may be waiting; close() rejects it
  }

  /**
   * Reads the global cutoff (so tokens are stamped after it from the start), then loads the snapshot
   * and follows the feed in the background: resolves without waiting for the snapshot. Until the
   * snapshot is applied the replica is not fresh (see {@link ready}). Rejects when the store cannot answer.
   */
  async start(): Promise<void> {
    const { globalCutoff } = await this.#store.check({}, this.#opts.now());
    this.#globalCutoff = Math.max(this.#globalCutoff, globalCutoff);
    this.#loop = this.#run();
    this.#sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();
    const every = this.#opts.checkpointIntervalMs ?? 0;
    if (every > 0 && this.#store.writeCheckpoint) {
      // Jittered, so that nodes started together do not all write at once.
      this.#checkpointTimer = setInterval(
        () => void this.#maybeCheckpoint(every),
        Math.round(every * (0.8 + 0.2 * Math.random())),
      );
      this.#checkpointTimer.unref();
    }
  }

  /** Resolves once the first snapshot is applied; rejects if the replica is closed before that. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Whether a complete snapshot is in memory. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** The background work: the first snapshot (retried with backoff until it loads), then the feed. */
  async #run(): Promise<void> {
    let backoff = 10;
    while (!this.#closed && !this.#loaded) {
      try {
        // close() does not wait for a snapshot in flight (a store may take long to give up on it).
        const load = this.#load();
        load.catch(() => undefined);
        await Promise.race([load, this.#closing]);
        if (this.#closed) return;
        this.#lastError = null;
        this.#settleReady?.();
      } catch (error) {
        if (this.#closed) return;
        this.#failed(error);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    if (!this.#closed) await this.#follow();
  }

  async #load(): Promise<void> {
    const started = this.#opts.now();
    // Partly filled, the replica must not count as fresh: verify asks the store meanwhile.
    this.#loaded = false;
    this.#confirmedAt = Number.NEGATIVE_INFINITY;
    this.jtis.clear();
    this.sessions.clear();
    this.#users.clear();
    if (await this.#fromCheckpoint()) return;
    let head: { globalCutoff: number; cursor: string; epoch: string };
    if (this.#store.snapshotInto) {
      head = await this.#store.snapshotInto(
        started,
        (kind, subject, expiresAt, user) => {
          if (kind === "user") {
            if (user) this.#applyUser(subject, user, expiresAt);
          } else if (kind === "jti" && this.#keyWithdrawal(subject, expiresAt)) return;
          else (kind === "jti" ? this.jtis : this.sessions).add(subject, expiresAt);
        },
        { jtis: this.jtis, sessions: this.sessions },
      );
    } else {
      const snap = await this.#store.snapshot(started);
      let jtis = 0;
      for (const e of snap.entries) if (e.kind === "jti") jtis++;
      this.jtis.reserve?.(jtis);
      this.sessions.reserve?.(snap.entries.length - jtis);
      for (const e of snap.entries) this.#put(e);
      head = snap;
    }
    if (this.#closed) return;
    this.#globalCutoff = Math.max(this.#globalCutoff, head.globalCutoff);
    this.#cursor = head.cursor;
    this.#epoch = head.epoch;
    this.#confirmedAt = started;
    this.#loadedFrom = "snapshot";
    this.#loaded = true;
  }

  /**
   * Loads the store's newest checkpoint and the feed after it, when the store keeps checkpoints and
   * the indexes take raw words. `false` (everything cleared again) when there is none, it is of
   * another epoch than the feed, or it cannot be read: the caller then reads the full snapshot.
   */
  async #fromCheckpoint(): Promise<boolean> {
    if (!this.#store.readCheckpoint || !this.jtis.addWords || !this.sessions.addWords) return false;
    try {
      const loaded = await loadCheckpoint(
        this.#store,
        {
          jtis: this.jtis,
          sessions: this.sessions,
          row: (r) => this.#snapshotRow(r[0], r[1], r[2], r[3]),
          put: (e) => this.#put(e),
        },
        { now: this.#opts.now, closed: () => this.#closed, batch: BATCH },
      );
      if (!loaded) return false;
      const { head, cursor, confirmedAt } = loaded;
      this.#globalCutoff = Math.max(this.#globalCutoff, head.globalCutoff);
      this.#cursor = cursor;
      this.#epoch = head.epoch;
      this.#confirmedAt = confirmedAt;
      this.#loadedFrom = "checkpoint";
      this.#loaded = true;
      return true;
    } catch (error) {
      this.#opts.onError?.(error);
      this.jtis.clear();
      this.sessions.clear();
      this.#users.clear();
      return false;
    }
  }

  /** One row of a snapshot, as a store's snapshot sink gets it. */
  #snapshotRow(kind: unknown, subject: unknown, expiresAt: unknown, user?: unknown): void {
    if (typeof subject !== "string" || typeof expiresAt !== "number")
      throw new Error("a snapshot row is malformed");
    if (kind === "user") {
      const u = user as Partial<UserCutoff> | undefined;
      if (typeof u?.cutoff !== "number") throw new Error("a snapshot row is malformed");
      this.#applyUser(subject, { cutoff: u.cutoff, exceptSessionId: u.exceptSessionId ?? null }, expiresAt);
    } else if (kind === "jti") {
      if (!this.#keyWithdrawal(subject, expiresAt)) this.jtis.add(subject, expiresAt);
    } else if (kind === "session") this.sessions.add(subject, expiresAt);
    else throw new Error("a snapshot row is malformed");
  }

  /**
   * Writes a checkpoint of this replica to the store (see `RevocationStore.writeCheckpoint`): its
   * content and cursor at this moment, so that new nodes load in one read. `false` when the store
   * keeps no checkpoints, the replica is not loaded, or a newer checkpoint is there already.
   */
  async checkpoint(): Promise<boolean> {
    if (!this.#store.writeCheckpoint) return false;
    const now = this.#opts.now();
    const snap = this.exportSnapshot(now);
    if (!snap) return false;
    return this.#store.writeCheckpoint({ takenAt: now, data: encodeSnapshot(snap) });
  }

  /** Writes a checkpoint when the newest one in the store is older than the interval (another node may have). */
  async #maybeCheckpoint(intervalMs: number): Promise<void> {
    if (!this.#loaded || this.#closed || !this.#store.checkpointTakenAt) return;
    try {
      const takenAt = await this.#store.checkpointTakenAt();
      if (this.#opts.now() - takenAt < intervalMs * 0.9) return;
      await this.checkpoint();
    } catch (error) {
      this.#opts.onError?.(error);
    }
  }

  #failed(error: unknown): void {
    this.#lastError = error instanceof Error ? error.message : String(error);
    this.#opts.onError?.(error);
  }

  /** Waits `ms`, or less when the replica closes. */
  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref(); // background retry: never what keeps the process alive
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  async #follow(): Promise<void> {
    let backoff = 10;
    while (!this.#closed) {
      const started = this.#opts.now();
      try {
        const batch = await this.#store.changes(this.#cursor, { waitMs: this.#waitMs, limit: BATCH });
        if (this.#closed) return;
        if (batch.epoch !== this.#epoch) {
          await this.#dataLost(started);
          continue;
        }
        for (const e of batch.entries) this.#fromFeed(e);
        this.#cursor = batch.cursor;
        // A full batch may have left entries behind: only a short one proves the replica current.
        if (batch.entries.length < BATCH) this.#confirmedAt = started;
        this.#lastError = null;
        backoff = 10;
      } catch (error) {
        if (this.#closed) return;
        this.#failed(error);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 500);
      }
    }
  }

  /**
   * The store came back without the data it had (its first-start marker changed): every token issued
   * before now is treated as revoked, here and, through the store, on every node.
   */
  async #dataLost(detectedAt: number): Promise<void> {
    // Retried until the new snapshot loads: the same cutoff every time, so users are logged out once.
    const first = this.#lossCutoff === undefined;
    const at = (this.#lossCutoff ??= detectedAt);
    this.#globalCutoff = Math.max(this.#globalCutoff, at);
    if (first) this.#opts.onDataLoss?.(at);
    await this.#store.addRevocation({
      kind: "global",
      subject: "",
      cutoff: at,
      expiresAt: Number.MAX_SAFE_INTEGER,
      reason: "store_data_loss",
      actor: "system",
      at,
    });
    const cutoff = this.#globalCutoff;
    await this.#load();
    this.#globalCutoff = Math.max(this.#globalCutoff, cutoff);
    this.#lossCutoff = undefined;
  }

  /** Entries this node applied itself, until the feed brings them back (bounded; for metrics only). */
  readonly #mine = new Set<string>();

  /** Applies one entry this node wrote. Idempotent; it arrives again from the feed. */
  apply(entry: RevocationEntry): void {
    if (this.#opts.onFeedEntry) {
      if (this.#mine.size >= MINE_MAX) this.#mine.clear();
      this.#mine.add(`${entry.kind}|${entry.subject}`);
    }
    this.#put(entry);
  }

  /** Feed entries waiting to be told apart from this node's own (see `onFeedEntry`). */
  #arrived: { entry: RevocationEntry; at: number }[] = [];

  #fromFeed(entry: RevocationEntry): void {
    this.#put(entry);
    const report = this.#opts.onFeedEntry;
    if (!report) return;
    if (this.#arrived.length === 0) {
      setTimeout(() => {
        const arrived = this.#arrived;
        this.#arrived = [];
        for (const a of arrived) {
          report(a.entry, !this.#mine.delete(`${a.entry.kind}|${a.entry.subject}`), a.at);
        }
      }, OWN_ENTRY_WAIT_MS).unref();
    }
    if (this.#arrived.length < MINE_MAX) this.#arrived.push({ entry, at: this.#opts.now() });
  }

  #put(entry: RevocationEntry): void {
    switch (entry.kind) {
      case "jti":
        if (this.#keyWithdrawal(entry.subject, entry.expiresAt)) break;
        this.jtis.add(entry.subject, entry.expiresAt);
        break;
      case "session":
        this.sessions.add(entry.subject, entry.expiresAt);
        break;
      case "global":
        if (entry.cutoff !== undefined && entry.cutoff > this.#globalCutoff)
          this.#globalCutoff = entry.cutoff;
        break;
      case "user":
        if (entry.cutoff !== undefined) {
          this.#applyUser(
            entry.subject,
            { cutoff: entry.cutoff, exceptSessionId: entry.exceptSessionId ?? null },
            entry.expiresAt,
          );
        }
        break;
    }
  }

  #applyUser(userId: string, next: UserCutoff, expiresAt: number): void {
    const prev = this.#users.get(userId);
    const kept = laterUserCutoff(prev, next);
    const ttl = this.#opts.userCutoffTtlMs?.();
    const until = Math.max(expiresAt, prev?.expiresAt ?? 0);
    this.#users.set(userId, {
      cutoff: kept.cutoff,
      exceptSessionId: kept.exceptSessionId,
      expiresAt: ttl === undefined ? until : Math.min(until, kept.cutoff + ttl),
    });
  }

  /** The user's cutoff known here, `null` when none (or it has lapsed at `now`). One Map lookup. */
  userCutoff(userId: string, now: number): UserCutoff | null {
    const u = this.#users.get(userId);
    return u !== undefined && u.expiresAt > now ? u : null;
  }

  /** Records a key withdrawal when `subject` is one; returns whether it was. */
  #keyWithdrawal(subject: string, expiresAt: number): boolean {
    const kid = withdrawnKid(subject);
    if (kid === undefined) return false;
    const known = this.withdrawnKeys.get(kid);
    this.withdrawnKeys.set(kid, Math.max(known ?? 0, expiresAt));
    if (known === undefined) this.#opts.onKeyWithdrawn?.(kid);
    return true;
  }

  /** What the replica knows about one token. Pure memory reads. */
  facts(jti: string, sessionId: string, now: number, userId?: string): RevocationFacts {
    return {
      jtiRevoked: this.jtis.has(jti, now),
      sessionRevoked: this.sessions.has(sessionId, now),
      globalCutoff: this.#globalCutoff,
      user: userId === undefined ? null : this.userCutoff(userId, now),
    };
  }

  /** The global cutoff known here (ms, 0 when none). */
  get globalCutoff(): number {
    return this.#globalCutoff;
  }

  /** Whether the store confirmed the replica current within `maxStaleness` of `now`. */
  isFresh(now: number): boolean {
    return now - this.#confirmedAt <= this.#opts.maxStalenessMs;
  }

  /** Frees memory of expired entries, a bounded amount at a time. */
  sweep(now = this.#opts.now()): void {
    // A withdrawn key is also deleted from the store, so forgetting it here cannot bring it back.
    for (const [kid, until] of this.withdrawnKeys) if (until <= now) this.withdrawnKeys.delete(kid);
    this.jtis.sweep(now, SWEEP_BUDGET);
    this.sessions.sweep(now, SWEEP_BUDGET);
    for (const [userId, u] of this.#users) if (u.expiresAt <= now) this.#users.delete(userId);
  }

  /**
   * The active entries and the position they lead to, copied synchronously (no feed answer can be
   * applied in between), so that following the feed from `cursor` misses nothing. `undefined` when
   * the snapshot is not loaded or an index is not a {@link CompactIndex}. Entries this node applied
   * itself ahead of the feed may be included; they arrive again after `cursor` and apply idempotently.
   */
  exportSnapshot(now = this.#opts.now()): ReplicaSnapshot | undefined {
    if (!this.#loaded || !(this.jtis instanceof CompactIndex) || !(this.sessions instanceof CompactIndex))
      return undefined;
    const rows: unknown[][] = [];
    for (const [userId, u] of this.#users)
      if (u.expiresAt > now)
        rows.push(["user", userId, u.expiresAt, { cutoff: u.cutoff, exceptSessionId: u.exceptSessionId }]);
    for (const [kid, until] of this.withdrawnKeys)
      if (until > now) rows.push(["jti", keyWithdrawalSubject(kid), until]);
    return {
      jtis: this.jtis.exportWords(now),
      sessions: this.sessions.exportWords(now),
      rows,
      globalCutoff: this.#globalCutoff,
      cursor: this.#cursor,
      epoch: this.#epoch,
    };
  }

  /** Diagnostics for `/healthz`, `/metrics` and `status`. */
  status(now = this.#opts.now()): ReplicaStatus {
    return {
      tokens: this.jtis.size,
      sessions: this.sessions.size,
      users: this.#users.size,
      globalCutoff: this.#globalCutoff,
      lagMs: Math.max(0, now - this.#confirmedAt),
      fresh: this.isFresh(now),
      cursor: this.#cursor,
      epoch: this.#epoch,
      lastError: this.#lastError,
      loaded: this.#loaded,
      loadedFrom: this.#loaded ? this.#loadedFrom : null,
    };
  }

  /** Stops following the feed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#signalClosing?.();
    this.#settleReady?.(new StoreUnavailableError("the replica was closed before its snapshot loaded"));
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    if (this.#checkpointTimer) clearInterval(this.#checkpointTimer);
    this.#wake?.();
    await this.#loop?.catch(() => undefined);
  }
}
