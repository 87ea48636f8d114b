import { errorText } from "../core/error-text.js";
import type { Logger } from "../core/logger.js";

/** A failure that repeats unchanged is logged again after this long, ms (with how often it came). */
const RELOG_MS = 60_000;

interface Streak {
  text: string;
  context: Record<string, unknown>;
  loggedAt: number;
  repeats: number;
}

/**
 * Reports the failures of one background task of the server (the revocation feed's store reads, the
 * security-event steps and deliveries, the status-list purge), so none is swallowed: each failure is
 * counted (`count`, for `/metrics`) and logged at warn with the task, its context and the error as
 * {@link errorText} gives it (never a driver's message, a token or a secret). A task that retries
 * every few milliseconds would flood the log, so a failure that repeats unchanged is logged again only
 * once a minute (with `repeats`, how often it came since), and the first success after failures is
 * logged at info. `key` keeps separate streaks apart (one per receiver of security events).
 * @example
 * const failures = new FailureLog(log, "revocation_feed", "revocation feed: store read failed; retrying");
 * try { await read(); failures.recovered(); } catch (error) { failures.failed(error); }
 */
export class FailureLog {
  readonly #log: Logger;
  readonly #task: string;
  readonly #message: string;
  readonly #count: (() => void) | undefined;
  readonly #streaks = new Map<string, Streak>();

  /** `message` is the log line's text; `count` is called once per failure. */
  constructor(log: Logger, task: string, message: string, count?: () => void) {
    this.#log = log;
    this.#task = task;
    this.#message = message;
    this.#count = count;
  }

  /**
   * One failure. `error` is an error (described by {@link errorText}) or a text of our own (an HTTP
   * status a receiver answered).
   */
  failed(error: unknown, context: Record<string, unknown> = {}, key = ""): void {
    this.#count?.();
    const text = typeof error === "string" ? error : errorText(error);
    const now = Date.now();
    const streak = this.#streaks.get(key);
    if (streak && streak.text === text && now - streak.loggedAt < RELOG_MS) {
      streak.repeats++;
      return;
    }
    const repeats = streak && streak.text === text ? { repeats: streak.repeats } : {};
    this.#log.warn({ task: this.#task, ...context, err: text, ...repeats }, this.#message);
    this.#streaks.set(key, { text, context, loggedAt: now, repeats: 0 });
  }

  /** The task (or the streak `key`) succeeded: ends its streak of failures, if there was one. */
  recovered(key = ""): void {
    const streak = this.#streaks.size === 0 ? undefined : this.#streaks.get(key);
    if (!streak) return;
    this.#streaks.delete(key);
    this.#log.info?.({ task: this.#task, ...streak.context }, `${this.#task}: working again`);
  }
}
