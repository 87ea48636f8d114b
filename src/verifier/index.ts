/**
 * The remote verifier: verifies revokit access tokens in a resource server that does not share the
 * auth server's store. It reads the server's RFC 8414 metadata and JWKS, then follows the server's
 * revocation feed over HTTP into the same in-memory replica a node keeps, so `verify` does no I/O,
 * sees every revocation within the propagation bound, and fails closed when it cannot prove it is
 * current. Loading this module loads no store driver.
 * @example
 * import { createVerifier } from "revokit/verifier";
 * import { requireAuth } from "revokit/express";
 * const verifier = await createVerifier({
 *   issuer: "https://auth.example.com", audience: "api",
 *   clientId: "orders-api", clientSecret: process.env.REVOKIT_CLIENT_SECRET,
 * });
 * app.get("/orders", requireAuth(verifier), handler);
 */

import type { AccessTokenClaims } from "../core/access-token.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { errorText } from "../core/error-text.js";
import {
  ClosedError,
  ConfigInvalidError,
  RevocationUnavailableError,
  TokenExpiredError,
} from "../core/errors.js";
import { decisionError, evaluate } from "../core/evaluate.js";
import { type Algorithm, isAlgorithm, type KeyEntry, KeyRing } from "../core/keys.js";
import type { Logger } from "../core/logger.js";
import { TokenCache } from "../core/token-cache.js";
import { checkedClaims, type TokenChecks } from "../core/token-checks.js";
import { type TokenVerifier, verifyNow } from "../core/token-verifier.js";
import { STDERR_LOGGER } from "../loggers.js";
import { AuthMetrics } from "../metrics.js";
import { Replica, type ReplicaStatus } from "../replica/replica.js";
import { HttpClient } from "./http.js";
import { keysFromJwks } from "./keys.js";
import { RemoteFeed } from "./remote-feed.js";

/** Options of {@link createVerifier}. Durations are seconds or strings like `"1s"`. */
export interface VerifierOptions {
  /** The auth server's issuer, exactly as in its tokens and metadata. */
  issuer: string;
  /** The audience a token must carry. */
  audience: string;
  /** A confidential client of the auth server (`revokit clients add ID`). */
  clientId: string;
  /** Its secret. Never logged. */
  clientSecret: string;
  /** How old the proof that the replica is current may be before `verify` refuses with `ERR_REVOCATION_UNAVAILABLE`. Default `"1s"`. */
  maxStaleness?: Duration;
  /** `"closed"` (default): refuse when revocation state cannot be proven current. `"open"`: accept on the last known state, log, count. */
  failMode?: "closed" | "open";
  /** Algorithms accepted. Default `["RS256", "ES256", "EdDSA"]` (keys are taken only with the `alg` the JWKS names). */
  algorithms?: Algorithm[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`. Default `"5s"`. */
  clockTolerance?: Duration;
  /** Longest access token accepted, in characters. Default 8192. */
  maxTokenLength?: number;
  /** How often the JWKS is read again (it is also read on a key event of the feed and on an unknown `kid`). Default `"1m"`. */
  keyRefreshInterval?: Duration;
  /** How many verified tokens to remember (revocation is still checked every call). Default 10000; `false` or 0 turns it off. */
  verifyCache?: number | false;
  /** Where warnings go. Default: JSON lines on stderr. */
  logger?: Logger;
  /** The clock, ms. Default `Date.now`. */
  clock?: () => number;
}

/** Diagnostics of a verifier. */
export interface VerifierStatus {
  issuer: string;
  /** Replica size, lag and freshness, as on a node. */
  replica: ReplicaStatus;
  /** Keys verification accepts now. */
  keys: { kid: string; alg: Algorithm }[];
  failMode: "closed" | "open";
  /** Last error of the background work (metadata, JWKS, feed), `null` when all works. */
  lastError: string | null;
}

const OPTION_NAMES = new Set<string>([
  "issuer",
  "audience",
  "clientId",
  "clientSecret",
  "maxStaleness",
  "failMode",
  "algorithms",
  "clockTolerance",
  "maxTokenLength",
  "keyRefreshInterval",
  "verifyCache",
  "logger",
  "clock",
]);
const DEFAULT_ALGORITHMS: Algorithm[] = ["RS256", "ES256", "EdDSA"];
/** An unknown kid reads the JWKS again at most this often, ms. */
const KID_RELOAD_MS = 5000;
const HTTP_TIMEOUT_MS = 10_000;
const SNAPSHOT_TIMEOUT_MS = 120_000;

/**
 * Creates a {@link Verifier} and starts following the server: metadata, JWKS, then the revocation
 * feed (snapshot, then changes). Resolves once metadata and keys are read; the snapshot loads in the
 * background (`await verifier.ready()` waits for it; until then `verify` refuses with
 * `ERR_REVOCATION_UNAVAILABLE`). Bad options throw at once; an unreachable server rejects.
 * @example
 * const verifier = await createVerifier({ issuer, audience: "api", clientId, clientSecret });
 * await verifier.ready();
 * const claims = await verifier.verify(token); // or throws AuthError: ERR_SESSION_REVOKED, ...
 */
export async function createVerifier(options: VerifierOptions): Promise<Verifier> {
  const verifier = new Verifier(options);
  try {
    await verifier.start();
  } catch (error) {
    await verifier.close();
    throw error;
  }
  return verifier;
}

/** A resource server's view of the auth server's tokens and revocations. Create it with {@link createVerifier}. */
export class Verifier implements TokenVerifier {
  /** Counters, as on a node (`verify` outcomes, feed errors, fail-open acceptances). */
  readonly metrics = new AuthMetrics();
  readonly issuer: string;
  readonly audience: string;
  readonly failMode: "closed" | "open";
  readonly #authorization: string;
  readonly #algorithms: ReadonlySet<Algorithm>;
  readonly #toleranceMs: number;
  readonly #keyRefreshMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #http = new HttpClient();
  readonly #cache: TokenCache<AccessTokenClaims> | undefined;
  /** The signature and claims step's cache and rules (built once), shared with a node's verify path. */
  readonly #checks: TokenChecks;
  readonly #replica: Replica;
  readonly #feed: RemoteFeed;
  /** Key ids withdrawn by the server (a key event on the feed): refused even if a JWKS still lists them. */
  readonly #withdrawn = new Set<string>();
  #ring = new KeyRing([]);
  #jwksUri: URL | undefined;
  #keysLoadedAt = Number.NEGATIVE_INFINITY;
  #keyReload: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | null = null;
  #lastFailOpenLog = 0;
  #closed = false;

  /** Use {@link createVerifier}; the constructor only validates options. */
  constructor(options: VerifierOptions) {
    if (typeof options !== "object" || options === null)
      throw new TypeError("createVerifier: options must be an object");
    for (const key of Object.keys(options)) {
      if (!OPTION_NAMES.has(key)) throw new TypeError(`createVerifier: unknown option "${key}"`);
    }
    const text = (name: "issuer" | "audience" | "clientId" | "clientSecret") => {
      const v = options[name];
      if (typeof v !== "string" || v.length === 0)
        throw new ConfigInvalidError(name, "must be a non-empty string");
      return v;
    };
    this.issuer = text("issuer");
    let issuerUrl: URL;
    try {
      issuerUrl = new URL(this.issuer);
    } catch {
      throw new ConfigInvalidError("issuer", "must be an absolute URL");
    }
    if (issuerUrl.protocol !== "https:" && issuerUrl.protocol !== "http:")
      throw new ConfigInvalidError("issuer", "must be an http(s) URL");
    this.audience = text("audience");
    const clientId = text("clientId");
    const secret = text("clientSecret");
    // RFC 6749 §2.3.1: each part form-urlencoded before base64.
    const form = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
    this.#authorization = `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString("base64")}`;
    const algs = options.algorithms ?? DEFAULT_ALGORITHMS;
    if (!Array.isArray(algs) || algs.length === 0 || !algs.every((a) => isAlgorithm(a) && a !== "HS256"))
      throw new ConfigInvalidError(
        "algorithms",
        "must list RS256, ES256 or EdDSA (HS256 keys are never published)",
      );
    this.#algorithms = new Set(algs);
    const positive = (name: keyof VerifierOptions, value: Duration, allowZero = false) => {
      const ms = parseDuration(value, name);
      if (!allowZero && ms <= 0) throw new ConfigInvalidError(name, "must be greater than zero");
      return ms;
    };
    const maxStalenessMs = positive("maxStaleness", options.maxStaleness ?? "1s");
    this.#toleranceMs = positive("clockTolerance", options.clockTolerance ?? "5s", true);
    this.#keyRefreshMs = positive("keyRefreshInterval", options.keyRefreshInterval ?? "1m");
    this.failMode = options.failMode ?? "closed";
    if (this.failMode !== "closed" && this.failMode !== "open")
      throw new ConfigInvalidError("failMode", 'must be "closed" or "open"');
    const maxLength = options.maxTokenLength ?? 8192;
    if (!Number.isInteger(maxLength) || maxLength < 256)
      throw new ConfigInvalidError("maxTokenLength", "must be an integer of at least 256");
    if (options.clock !== undefined && typeof options.clock !== "function")
      throw new ConfigInvalidError("clock", "must be a function returning milliseconds");
    this.#now = options.clock ?? Date.now;
    this.#log = options.logger ?? STDERR_LOGGER;
    const cacheSize = options.verifyCache ?? 10_000;
    if (cacheSize !== false && (!Number.isInteger(cacheSize) || cacheSize < 0))
      throw new ConfigInvalidError("verifyCache", "must be a number of entries (0 or more) or false");
    this.#cache = cacheSize === false || cacheSize === 0 ? undefined : new TokenCache(cacheSize);
    this.#checks = {
      cache: this.#cache,
      jws: {
        algorithms: this.#algorithms,
        key: (kid) => (this.#withdrawn.has(kid) ? undefined : this.#ring.get(kid)),
        maxLength,
        typ: "at+jwt",
      },
      claims: { issuer: this.issuer, audience: this.audience, toleranceSec: this.#toleranceMs / 1000 },
      refused: (error) => this.#countFailure(error),
    };
    this.#feed = new RemoteFeed({
      authorization: this.#authorization,
      http: this.#http,
      snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS,
    });
    this.#replica = new Replica(this.#feed, {
      now: this.#now,
      maxStalenessMs,
      onKeyWithdrawn: (kid) => this.#onKeyWithdrawn(kid),
      onError: (error) => {
        this.metrics.storeErrors++;
        this.#lastError = errorText(error, { withMessage: true });
      },
      onDataLoss: (cutoff) =>
        this.#log.error(
          { issuer: this.issuer, cutoff: new Date(cutoff).toISOString() },
          "the auth server's store lost its data: every token issued before now is treated as revoked",
        ),
    });
  }

  /** Reads the metadata and the JWKS, then starts following the feed. Called by {@link createVerifier}. */
  async start(): Promise<void> {
    const metadata = await this.#getJson(metadataUrl(this.issuer), true);
    if (metadata.issuer !== this.issuer)
      throw new ConfigInvalidError("issuer", "does not match the issuer of the server's metadata");
    const feed = metadata.revocation_feed_endpoint;
    const jwks = metadata.jwks_uri;
    if (typeof feed !== "string" || typeof jwks !== "string")
      throw new ConfigInvalidError(
        "issuer",
        "the server's metadata has no revocation_feed_endpoint or jwks_uri",
      );
    this.#feed.endpoint = new URL(feed);
    this.#jwksUri = new URL(jwks);
    await this.#reloadKeys(true);
    await this.#replica.start();
    this.#timer = setInterval(() => {
      this.#reloadKeys().catch(() => undefined);
    }, this.#keyRefreshMs);
    this.#timer.unref();
  }

  async #getJson(url: URL, hold = false): Promise<Record<string, unknown>> {
    const answer = await this.#http.get(url, { accept: "application/json" }, HTTP_TIMEOUT_MS, hold);
    if (answer.status !== 200)
      throw new RevocationUnavailableError(`${url.pathname} answered ${answer.status}`);
    const body = JSON.parse(answer.body) as unknown;
    if (typeof body !== "object" || body === null)
      throw new RevocationUnavailableError(`${url.pathname} is not a JSON object`);
    return body as Record<string, unknown>;
  }

  /** Reads the JWKS again (one read at a time); a failure keeps the keys known and is retried later. */
  #reloadKeys(hold = false): Promise<void> {
    this.#keyReload ??= (async () => {
      try {
        const uri = this.#jwksUri;
        if (!uri) return;
        const started = this.#now();
        const entries = keysFromJwks(await this.#getJson(uri, hold), this.#algorithms);
        this.#setKeys(
          entries.filter((k) => !this.#withdrawn.has(k.kid)),
          started,
        );
      } catch (error) {
        this.#lastError = errorText(error, { withMessage: true });
        this.metrics.storeErrors++;
        throw error;
      } finally {
        this.#keyReload = undefined;
      }
    })();
    return this.#keyReload;
  }

  #setKeys(entries: KeyEntry[], at: number): void {
    const before = this.#ring;
    const ring = new KeyRing(entries);
    const kept = before.entries.every((k) => {
      const now = ring.get(k.kid);
      return now?.verifyKey.equals(k.verifyKey) === true;
    });
    if (this.#cache && !kept) this.#cache.clear();
    this.#ring = ring;
    this.#keysLoadedAt = at;
  }

  /**
   * A key withdrawal from the feed or the snapshot (the replica sees it first): that kid is refused
   * at once, even while a JWKS still lists it, and the JWKS is read again for its replacement.
   */
  #onKeyWithdrawn(subject: string): void {
    this.#withdrawn.add(subject);
    if (this.#ring.get(subject)) {
      this.#setKeys(
        this.#ring.entries.filter((k) => k.kid !== subject),
        this.#keysLoadedAt,
      );
    }
    this.#reloadKeys().catch(() => undefined);
  }

  /**
   * Verifies an access token exactly as `auth.verify` does on a node: signature (allowlisted
   * algorithms, each key bound to its `alg`), claims (`typ`, `iss`, `aud`, `exp`, `nbf`), then
   * revocation from the in-memory replica, with the same rules and errors. There is no store to
   * ask: when the replica cannot prove it is current within `maxStaleness`, it throws
   * `ERR_REVOCATION_UNAVAILABLE` (or, with `failMode: "open"`, accepts on the last known state).
   * `strict` changes nothing here: every answer already needs proven-current state.
   */
  async verify(token: string, _options?: { strict?: boolean }): Promise<AccessTokenClaims> {
    return this.#verify(token, false);
  }

  /**
   * {@link verify} synchronously, without a promise and without I/O: the same answers, except that a
   * key id this verifier has not loaded yet (which `verify` reads the JWKS again for) throws
   * `RevocationUnavailableError` (`ERR_REVOCATION_UNAVAILABLE`, retry after a second) while the JWKS
   * is read again in the background.
   * @example
   * const claims = verifier.verifySync(token); // or throws AuthError, as verify rejects
   */
  verifySync(token: string): AccessTokenClaims {
    return this.#verify(token, true) as AccessTokenClaims;
  }

  /** For revokit's middleware: the answer without a promise unless the JWKS must be read. @internal */
  [verifyNow](token: string, _strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    return this.#verify(token, false);
  }

  /** The verify path: synchronous unless an unknown kid calls for reading the JWKS (and not `sync`). */
  #verify(token: string, sync: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    this.#assertOpen();
    const now = this.#now();
    const claims = checkedClaims(token, now, this.#checks, now - this.#keysLoadedAt >= KID_RELOAD_MS);
    if (claims !== undefined) return this.#decide(claims, now);
    const reload = this.#reloadKeys().catch(() => undefined);
    if (sync) {
      this.metrics.count(this.metrics.verify, "unavailable");
      throw new RevocationUnavailableError(
        "the token's signing key is not loaded yet (reading the JWKS again); verifySync does no I/O, retry or use verify",
        1,
      );
    }
    return reload.then(() =>
      this.#decide(checkedClaims(token, now, this.#checks, false) as AccessTokenClaims, now),
    );
  }

  /** Revocation from the replica (fail closed when it is not current, unless `failMode: "open"`). */
  #decide(claims: AccessTokenClaims, now: number): AccessTokenClaims {
    if (!this.#replica.isFresh(now)) {
      if (!(this.failMode === "open" && this.#replica.loaded)) {
        this.metrics.count(this.metrics.verify, "unavailable");
        throw new RevocationUnavailableError("revocation state is unavailable", 1);
      }
      this.metrics.failOpen++;
      if (now - this.#lastFailOpenLog > 10_000) {
        this.#lastFailOpenLog = now;
        this.#log.error(
          { failMode: "open", issuer: this.issuer },
          "revocation state unavailable: FAILING OPEN, tokens are accepted on the stale replica",
        );
      }
    }
    const decision = evaluate(
      claims,
      this.#replica.facts(claims.jti, claims.sid, now, claims.sub),
      now,
      this.#toleranceMs,
    );
    this.metrics.count(this.metrics.verify, decision);
    if (decision !== "valid") throw decisionError(decision);
    return claims;
  }

  #countFailure(error: unknown): void {
    this.metrics.count(this.metrics.verify, error instanceof TokenExpiredError ? "expired" : "invalid");
  }

  /** Whether the replica is proven current within `maxStaleness`. */
  isFresh(): boolean {
    return this.#replica.isFresh(this.#now());
  }

  /** Resolves once the first snapshot of the revocations is loaded; rejects if closed before. */
  ready(): Promise<void> {
    return this.#replica.ready();
  }

  /** Diagnostics: replica size and lag, keys, fail mode, last background error. */
  status(): VerifierStatus {
    const replica = this.#replica.status(this.#now());
    return {
      issuer: this.issuer,
      replica,
      keys: this.#ring.entries.map((k) => ({ kid: k.kid, alg: k.alg })),
      failMode: this.failMode,
      lastError: replica.lastError ?? this.#lastError,
    };
  }

  /** Stops following the server and closes its connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    const done = this.#replica.close();
    this.#http.close();
    await done;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError();
  }
}

/** RFC 8414 §3: the well-known path goes between the host and the issuer's path. */
function metadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`);
}
