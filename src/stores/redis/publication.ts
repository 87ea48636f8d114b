/**
 * Redis Cluster only: the feed lives in its own slot, so a revocation cannot write the session (user
 * slot) and its feed entry in one script. It goes intent (next to the feed), revoke (user slot),
 * publish (feed slot); a node dying in between leaves the intent, which any node completes within
 * seconds ({@link Publication.reconcile}, on a timer and on every purge).
 */
import { randomBytes } from "node:crypto";
import { errorText } from "../../core/error-text.js";
import type { Logger } from "../../core/logger.js";
import type { NewRevocation } from "../../core/model.js";
import type { Arg, Connection } from "./connection.js";
import type { KeyLayout } from "./layout.js";
import { encodeKeyPart as enc } from "./layout.js";
import { INTENT_ADD, INTENT_LIST, MARK, PUBLISH } from "./lua/feed.js";
import { REVOKE } from "./lua/sessions.js";
import { type Pending, revokeReply } from "./records.js";
import { cells, strings } from "./replies.js";

/** A Cluster publication intent older than this is completed by whichever node sees it. */
const INTENT_AGE_MS = 10_000;
const RECONCILE_INTERVAL_MS = 5_000;

/** A user cutoff feed entry to publish: userId, expiresAt, reason, actor, at, cutoff, spared sid or ''. */
type UserPending = [string, string, string, string, string, string, string];

/** An intent as recorded: the user, a marker of a user cutoff under way, the one session it names. */
interface Intent {
  u: string;
  e: Pending | null;
  s: string | null;
}

function parseIntent(member: string): Intent {
  const value: unknown = JSON.parse(member);
  const o = typeof value === "object" && value !== null ? new Map(Object.entries(value)) : new Map();
  const u = o.get("u");
  const e = o.get("e");
  const s = o.get("s");
  return {
    u: typeof u === "string" ? u : "",
    e: Array.isArray(e) ? [String(e[0]), String(e[1]), String(e[2]), String(e[3]), String(e[4])] : null,
    s: typeof s === "string" ? s : null,
  };
}

/** A planned session entry (the core's `planSessionRevocation`) as the publish script takes it. */
export function sessionPending(entry: NewRevocation): Pending {
  return [entry.subject, String(entry.expiresAt), entry.reason, entry.actor, String(entry.at)];
}

/** A planned user entry (the core's `planUserCutoff`) as the publish script takes it. */
export function userPending(entry: NewRevocation): UserPending {
  return [
    entry.subject,
    String(entry.expiresAt),
    entry.reason,
    entry.actor,
    String(entry.at),
    String(entry.cutoff ?? 0),
    entry.exceptSessionId ?? "",
  ];
}

/** The Cluster publication of one store: intents, publishing, and completing what dead nodes left. */
export class Publication {
  readonly #conn: Connection;
  readonly #keys: KeyLayout;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** The text of the last background failure logged, so a failure streak is logged once. */
  #failing: string | undefined;

  constructor(conn: Connection, keys: KeyLayout, log: Logger) {
    this.#conn = conn;
    this.#keys = keys;
    this.#log = log;
  }

  /** Completes what is left now, then every few seconds until {@link stop}. */
  async start(): Promise<void> {
    await this.#inBackground();
    this.#timer = setInterval(() => void this.#inBackground(), RECONCILE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the timer (a round under way goes on: see {@link idle}). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves when no round is under way. */
  async idle(): Promise<void> {
    // Its failure was logged (background) or thrown to its caller (purge) where it ran.
    await this.#running?.catch(() => undefined);
  }

  /** A background round: a failure is logged once per streak (a Redis outage is not news every 5 s). */
  async #inBackground(): Promise<void> {
    try {
      await this.reconcile();
      if (this.#failing !== undefined) {
        this.#failing = undefined;
        this.#log.info?.({ store: "redis" }, "redis cluster publication reconciliation works again");
      }
    } catch (error) {
      const text = errorText(error);
      if (text === this.#failing) return;
      this.#failing = text;
      this.#log.error(
        { store: "redis", err: text },
        "redis cluster publication reconciliation failed; retrying every 5 s (revocations of nodes that died mid-way are not in the feed yet)",
      );
    }
  }

  /** Runs `fn` under a publication intent recorded next to the feed (see {@link reconcile}). */
  async withIntent<T>(
    userId: string,
    userEntry: Pending | null,
    encSid: string | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    const member = JSON.stringify({ u: userId, e: userEntry, s: encSid, n: randomBytes(6).toString("hex") });
    await this.#conn.run(INTENT_ADD, [this.#keys.global("pending")], [member]);
    const result = await fn();
    // The work is done; a leftover intent only makes some node re-check this user later.
    await this.#conn.send("ZREM", this.#keys.global("pending"), member).catch((error: unknown) => {
      this.#log.warn(
        { store: "redis", err: errorText(error) },
        "redis cluster: could not clear a completed publication intent (a node re-checks it later)",
      );
    });
    return result;
  }

  /** Writes prepared feed entries next to the feed, then marks the sessions published. */
  async publish(userId: string, pending: Pending[], userEntry: UserPending | null): Promise<void> {
    if (pending.length === 0 && !userEntry) return;
    const args: Arg[] = [pending.length, ...pending.flat(), ...(userEntry ?? [])];
    await this.#conn.run(PUBLISH, [this.#keys.global("feed")], args);
    if (pending.length > 0) {
      const U = this.#keys.user(userId);
      await this.#conn.run(MARK, [`${U}idx`], [U, ...pending.map((p) => enc(p[0]))]);
    }
  }

  /** Completes the publications of nodes that died (or lost Redis) half-way through one. */
  reconcile(): Promise<void> {
    this.#running ??= this.#reconcile().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #reconcile(): Promise<void> {
    const pendingKey = this.#keys.global("pending");
    const members = strings(await this.#conn.run(INTENT_LIST, [pendingKey], [INTENT_AGE_MS, 100]));
    for (const member of members) {
      if (this.#conn.closed) return;
      const intent = parseIntent(member);
      const userId = intent.u;
      const U = this.#keys.user(userId);
      // The one session the intent names (revoked but maybe unpublished): never a loop over sessions.
      let pending: Pending[] = [];
      if (intent.s) {
        const args: Arg[] = ["check", intent.s, "0", "0", "", "", "0", userId, U, "0"];
        pending = revokeReply(await this.#conn.run(REVOKE, [`${U}idx`, `${U}dis`], args, "deferred")).pending;
      }
      // A user cutoff under way: publish the user's cutoff as it is now recorded (if it is).
      let user: UserPending | null = null;
      if (intent.e) {
        const [c, p, e] = cells(await this.#conn.send("HMGET", `${U}cut`, "c", "p", "e"));
        if (c !== null && c !== undefined) {
          const [, , reason, actor, at] = intent.e;
          user = [userId, e ?? c, reason, actor, at, c, p ?? ""];
        }
      }
      await this.publish(userId, pending, user);
      await this.#conn.send("ZREM", pendingKey, member);
    }
  }
}
