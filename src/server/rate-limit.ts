import { createHash } from "node:crypto";
import type { Auth } from "../auth.js";
import { ApiError } from "./api-error.js";

/** Login rate limits. Counters live in the store, so nodes sharing a store share them. */
export interface RateLimitOptions {
  /** Failed logins per username before it is refused for the rest of the window. Default 10; 0 turns it off. */
  usernameFailures: number;
  /** Window of the username counter, ms. Default 15 minutes. */
  usernameWindowMs: number;
  /** Login (and registration) attempts per client IP per window. Default 100; 0 turns it off. */
  ipAttempts: number;
  /** Window of the IP counter, ms. Default 1 minute. */
  ipWindowMs: number;
}

/** The default limits: 10 failures per username per 15 minutes, 100 attempts per IP per minute. */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  usernameFailures: 10,
  usernameWindowMs: 15 * 60_000,
  ipAttempts: 100,
  ipWindowMs: 60_000,
};

/** Which limit refused a request. */
export type LimitKind = "ip" | "username";

function tooMany(resetAt: number, now: number): ApiError {
  const seconds = Math.max(1, Math.ceil((resetAt - now) / 1000));
  return new ApiError(429, "too_many_requests", "Too many attempts; try again later", {
    "retry-after": String(seconds),
  });
}

/** Bounded, opaque counter key for a username (any string a client sends). */
function userKey(username: string): string {
  return `login:user:${createHash("sha256").update(username.toLowerCase()).digest("base64url")}`;
}

/**
 * Login rate limiting per username (failures) and per client IP (attempts). A refusal is an
 * {@link ApiError} 429 `too_many_requests` with `Retry-After`.
 */
export class LoginLimiter {
  readonly #auth: Auth;
  readonly #opts: RateLimitOptions;
  readonly #now: () => number;
  readonly #onLimited: (kind: LimitKind) => void;

  /** `onLimited` is told each refusal (for metrics). */
  constructor(
    auth: Auth,
    options: RateLimitOptions,
    now: () => number,
    onLimited: (kind: LimitKind) => void,
  ) {
    this.#auth = auth;
    this.#opts = options;
    this.#now = now;
    this.#onLimited = onLimited;
  }

  /** Counts one attempt from `ip`; throws 429 past the limit. */
  async attempt(ip: string): Promise<void> {
    if (this.#opts.ipAttempts <= 0) return;
    const now = this.#now();
    const hit = await this.#auth.storeCall(() =>
      this.#auth.store.hitRateLimit(`login:ip:${ip}`, this.#opts.ipWindowMs, now),
    );
    if (hit.count > this.#opts.ipAttempts) {
      this.#onLimited("ip");
      throw tooMany(hit.resetAt, now);
    }
  }

  /** Throws 429 when `username` has used up its failures. */
  async check(username: string): Promise<void> {
    if (this.#opts.usernameFailures <= 0) return;
    const now = this.#now();
    const peek = await this.#auth.storeCall(() => this.#auth.store.peekRateLimit(userKey(username), now));
    if (peek.count >= this.#opts.usernameFailures) {
      this.#onLimited("username");
      throw tooMany(peek.resetAt, now);
    }
  }

  /** Counts a failed password for `username`. */
  async failed(username: string): Promise<void> {
    if (this.#opts.usernameFailures <= 0) return;
    const now = this.#now();
    await this.#auth.storeCall(() =>
      this.#auth.store.hitRateLimit(userKey(username), this.#opts.usernameWindowMs, now),
    );
  }

  /** A successful login clears the username's failures. */
  async succeeded(username: string): Promise<void> {
    if (this.#opts.usernameFailures <= 0) return;
    await this.#auth.storeCall(() => this.#auth.store.resetRateLimit(userKey(username)));
  }
}
