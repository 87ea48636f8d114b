import type { Logger as PinoLogger } from "pino";
import type { Auth, AuthOptions } from "../auth.js";
import type { Duration } from "../core/duration.js";
import type { Algorithm } from "../core/keys.js";
import type { Store } from "../stores/contract.js";
import type { LogLevel, LogRequests } from "./logger.js";
import type { PasswordPolicy, ScryptParams } from "./passwords.js";
import type { RateLimitOptions } from "./rate-limit.js";

/** Options of {@link createServer} and {@link startServer}. Every one has a default. */
export interface ServerOptions {
  /** Interface to listen on. Default `"127.0.0.1"`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 3000. */
  port?: number;
  /**
   * The store: a `Store` (`memoryStore()`, `sqliteStore()`, ...) or a URL (`sqlite:PATH`,
   * `redis://...`, `postgres://...`, `memory:`). Default `"sqlite:./data/revokit.db"`. With `auth`,
   * required: the `Store` object that `Auth` was created with (the server keeps its users, clients
   * and rate limits there, and serves its revocation feed from it).
   */
  store?: Store | string;
  /**
   * An existing `Auth` to serve, with the store it was created with as `store` (then the token
   * options below are ignored and `close()` leaves both open). Without it the server creates one on
   * `store`.
   * @example
   * const store = memoryStore();
   * const auth = await createAuth({ issuer: "http://127.0.0.1:3000", audience: "api", store });
   * const server = await createServer({ auth, store, port: 3000 });
   */
  auth?: Auth;
  /** `iss` of the tokens and base of every URL in the metadata. Default `http://{host}:{port}`. */
  issuer?: string;
  /** `aud` of the access tokens. Default `"api"`. */
  audience?: string;
  /** Access-token life. Default `"15m"`. */
  accessTokenTtl?: Duration;
  /** Absolute session life. Default `"30d"`. */
  refreshTokenTtl?: Duration;
  /** Idle session life. Default `"7d"`. */
  refreshIdleTtl?: Duration;
  /** Refresh grace window. Default `"10s"`. */
  refreshGrace?: Duration;
  /** Live sessions a user may hold; past it, a login ends the oldest. Default 100. */
  maxSessionsPerUser?: number;
  /** Signing algorithm. Default `"RS256"`. */
  algorithm?: Algorithm;
  /** How stale the replica may be before verification asks the store. Default `"1s"`. */
  maxStaleness?: Duration;
  /** `"closed"` (default) or `"open"`. */
  failMode?: "closed" | "open";
  /** Further `createAuth` options (clock, key refresh interval, ...). */
  authOptions?: Partial<AuthOptions>;
  /** Whether `POST /auth/register` is open. Default `true`. */
  register?: boolean;
  /** Mark the refresh cookie `Secure` even when the issuer is `http:`. Default: only for an `https:` issuer. */
  cookieSecure?: boolean;
  /** Login rate limits (see {@link RateLimitOptions}). */
  rateLimits?: Partial<RateLimitOptions>;
  /** Fastify's `trustProxy`: `true`, a hop count, or addresses/CIDRs whose `X-Forwarded-For` is believed. Default `false`. */
  trustProxy?: boolean | number | string | string[];
  /** A pino logger, or a level for the built-in one (JSON on stdout), or `false` for none. Default `"info"`. */
  logger?: PinoLogger | LogLevel | false;
  /**
   * Which requests get one log line at info (request id, method, route pattern, status, duration in
   * ms; never the URL, a header or a body): `"all"` (default), `"errors"` (5xx only) or `"off"`.
   */
  logRequests?: LogRequests;
  /** `realm` of the `WWW-Authenticate` challenges. Default `"revokit"`. */
  realm?: string;
  /**
   * How new password hashes are made. Default argon2id with m=19 MiB, t=2, p=1 (OWASP's minimum).
   * Hashes made otherwise still verify and are rewritten at the next successful login.
   * @example
   * { algorithm: "scrypt", params: { N: 2 ** 17, r: 8, p: 1 } }
   */
  passwordHashing?: PasswordPolicy;
  /**
   * Shorthand for `passwordHashing: { algorithm: "scrypt", params }` (used when `passwordHashing` is
   * not set). Below N=2^17 it is under OWASP's minimum: only for tests.
   */
  scrypt?: ScryptParams;
  /** Where the web page lives (a directory with `index.html` and `assets/`). Default: `web/` of the package. */
  webRoot?: string | URL;
  /** Largest request body, bytes. Default 16384. */
  bodyLimit?: number;
  /** The clock (ms). Default `Date.now`; also passed to `createAuth` unless `authOptions.clock` is set. */
  clock?: () => number;
}
