import { createHash } from "node:crypto";
import type { Auth } from "../auth.js";
import type { AccountStore } from "../stores/contract.js";
import { ApiError } from "./api-error.js";

/** Login and client-authentication rate limits. Counters live in the store, so nodes sharing a store share them. */
export interface RateLimitOptions {
  /** Failed logins per username before it is refused for the rest of the window. Default 10; 0 turns it off. */
  usernameFailures: number;
  /** Window of the username counter, ms. Default 15 minutes. */
  usernameWindowMs: number;
  /** Login (and registration) attempts per client IP per window. Default 100; 0 turns it off. */
  ipAttempts: number;
  /** Window of the IP counter, ms. Default 1 minute. */
  ipWindowMs: number;
  /** Failed OAuth client authentications per `client_id` before it is refused for the rest of the window. Default 10; 0 turns it off. */
  clientFailures: number;
  /** Window of the `client_id` counter, ms. Default 15 minutes. */
  clientWindowMs: number;
  /** Failed OAuth client authentications per IP per window. Default 100; 0 turns it off. */
  clientIpFailures: number;
  /** Window of the per-IP client counter, ms. Default 1 minute. */
  clientIpWindowMs: number;
}

/**
 * Defaults: 10 failed logins per username per 15 minutes, 100 login attempts per IP per minute, and
 * the same numbers for failed client authentications per `client_id` and per IP.
 */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  usernameFailures: 10,
  usernameWindowMs: 15 * 60_000,
  ipAttempts: 100,
  ipWindowMs: 60_000,
  clientFailures: 10,
  clientWindowMs: 15 * 60_000,
  clientIpFailures: 100,
  clientIpWindowMs: 60_000,
};

/** Which limit refused a request. */
export type LimitKind = "ip" | "username" | "client" | "client_ip";

function tooMany(resetAt: number, now: number): ApiError {
  const seconds = Math.max(1, Math.ceil((resetAt - now) / 1000));
  return new ApiError(429, "too_many_requests", "Too many attempts; try again later", {
    "retry-after": String(seconds),
  });
}

/** Bounded, opaque counter key for any string a client sends (a username, a client id, an IP). */
function counterKey(prefix: string, value: string): string {
  return `${prefix}:${createHash("sha256").update(value).digest("base64url")}`;
}

const userKey = (username: string) => counterKey("login:user", username.toLowerCase());
const ipKey = (ip: string) => counterKey("login:ip", ip);
const clientKey = (clientId: string) => counterKey("client:id", clientId);
const clientIpKey = (ip: string) => counterKey("client:ip", ip);

/**
 * Rate limiting of logins (per username and per IP) and of OAuth client authentication (per
 * `client_id` and per IP). A refusal is an {@link ApiError} 429 `too_many_requests` with `Retry-After`.
 *
 * Checks that cost a password hash are reserved before they run: {@link reserve} counts the attempt
 * in the store (one atomic increment) and refuses when the count is past the limit, so however many
 * guesses arrive at once, at most `usernameFailures` of them are checked per window. A successful
 * login clears the counter.
 */
export class LoginLimiter {
  readonly #auth: Pick<Auth, "storeCall">;
  readonly #store: AccountStore;
  readonly #opts: RateLimitOptions;
  readonly #now: () => number;
  readonly #onLimited: (kind: LimitKind) => void;

  /**
   * The counters live in `store`; `auth.storeCall` turns its failures into 503s. `onLimited` is told
   * each refusal (for metrics).
   */
  constructor(
    auth: Pick<Auth, "storeCall">,
    store: AccountStore,
    options: RateLimitOptions,
    now: () => number,
    onLimited: (kind: LimitKind) => void,
  ) {
    this.#auth = auth;
    this.#store = store;
    this.#opts = options;
    this.#now = now;
    this.#onLimited = onLimited;
  }

  async #hit(key: string, windowMs: number, limit: number, kind: LimitKind): Promise<void> {
    const now = this.#now();
    const hit = await this.#auth.storeCall(() => this.#store.hitRateLimit(key, windowMs, now));
    if (hit.count > limit) {
      this.#onLimited(kind);
      throw tooMany(hit.resetAt, now);
    }
  }

  async #peek(key: string, limit: number, kind: LimitKind): Promise<void> {
    const now = this.#now();
    const peek = await this.#auth.storeCall(() => this.#store.peekRateLimit(key, now));
    if (peek.count >= limit) {
      this.#onLimited(kind);
      throw tooMany(peek.resetAt, now);
    }
  }

  /** Counts one attempt from `ip`; throws 429 past the limit. */
  async attempt(ip: string): Promise<void> {
    if (this.#opts.ipAttempts <= 0) return;
    await this.#hit(ipKey(ip), this.#opts.ipWindowMs, this.#opts.ipAttempts, "ip");
  }

  /**
   * Reserves one password check for `username` before it runs: counts it, and throws 429 when the
   * username has used up its attempts. The count stays (a failure) unless {@link succeeded} clears it.
   */
  async reserve(username: string): Promise<void> {
    if (this.#opts.usernameFailures <= 0) return;
    await this.#hit(userKey(username), this.#opts.usernameWindowMs, this.#opts.usernameFailures, "username");
  }

  /** A successful login clears the username's count. */
  async succeeded(username: string): Promise<void> {
    if (this.#opts.usernameFailures <= 0) return;
    await this.#auth.storeCall(() => this.#store.resetRateLimit(userKey(username)));
  }

  /**
   * Reserves one client-secret check: throws 429 when `ip` has too many recent failures, or when
   * `clientId` has used up its attempts (counted before the check, like {@link reserve}).
   */
  async reserveClient(clientId: string, ip: string): Promise<void> {
    if (this.#opts.clientIpFailures > 0) {
      await this.#peek(clientIpKey(ip), this.#opts.clientIpFailures, "client_ip");
    }
    if (this.#opts.clientFailures > 0) {
      await this.#hit(clientKey(clientId), this.#opts.clientWindowMs, this.#opts.clientFailures, "client");
    }
  }

  /** A failed client authentication from `ip` (any `client_id`, known or not). */
  async clientFailed(ip: string): Promise<void> {
    if (this.#opts.clientIpFailures <= 0) return;
    const now = this.#now();
    await this.#auth.storeCall(() =>
      this.#store.hitRateLimit(clientIpKey(ip), this.#opts.clientIpWindowMs, now),
    );
  }

  /** A successful client authentication clears the `client_id`'s count. */
  async clientSucceeded(clientId: string): Promise<void> {
    if (this.#opts.clientFailures <= 0) return;
    await this.#auth.storeCall(() => this.#store.resetRateLimit(clientKey(clientId)));
  }
}
