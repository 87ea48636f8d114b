/**
 * The standalone revokit auth server: users, sessions, the refresh grant, RFC 7009
 * revocation, RFC 7662 introspection, RFC 8414 metadata, JWKS, health and metrics, on Fastify.
 * @example
 * import { startServer } from "revokit/server";
 * const server = await startServer({ port: 3000, store: "sqlite:./data/revokit.db" });
 * // later: await server.close();
 */
import { createServer as createNetServer } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Logger as PinoLogger } from "pino";
import { type Auth, createAuth } from "../auth.js";
import { parseDuration } from "../core/duration.js";
import { errorText } from "../core/error-text.js";
import { ConfigInvalidError } from "../core/errors.js";
import { requireAuth } from "../http/fastify.js";
import type { Store } from "../stores/contract.js";
import { statusRegistryFor } from "../stores/status/index.js";
import { DEFAULT_STORE_URL, redactStoreUrl, storeFromUrl } from "../stores/url.js";
import { buildApp } from "./app.js";
import { ClientAuthenticator } from "./clients.js";
import type { ServerContext } from "./context.js";
import { createLogger, LOG_LEVELS, LOG_REQUESTS, type LogLevel } from "./logger.js";
import { ServerMetrics } from "./metrics.js";
import type { ServerOptions } from "./options.js";
import { passwordPolicy } from "./passwords.js";
import { DEFAULT_RATE_LIMITS, LoginLimiter, type RateLimitOptions } from "./rate-limit.js";
import { StatusLists } from "./status-lists.js";
import { Users } from "./users.js";

export {
  DEFAULT_STORE_URL,
  parseStoreUrl,
  redactStoreUrl,
  type StoreSpec,
  storeFromUrl,
} from "../stores/url.js";
export type { LogLevel } from "./logger.js";
export type { ServerOptions } from "./options.js";
export type { Argon2Params, PasswordPolicy, ScryptParams } from "./passwords.js";
export type { RateLimitOptions } from "./rate-limit.js";

/** A created (not yet listening) server. */
export interface RevokitServer {
  /** The Fastify app (for `inject()` in tests, or to add routes before `listen`). */
  app: FastifyInstance;
  /** The `Auth` the server issues and verifies with. */
  auth: Auth;
  /** The store the server holds: opened from `options.store`, or the one given with `options.auth`. */
  store: Store;
  /** The issuer (`iss` of the tokens, base of the metadata URLs). */
  issuer: string;
  /** The server's logger. */
  log: PinoLogger;
  /** Starts listening on `host`/`port`; resolves to the URL it listens on. */
  listen(): Promise<string>;
  /** Stops accepting requests, finishes those in flight, then closes the `Auth` (if the server created it). Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions extends ServerOptions {
  /** Close gracefully on SIGTERM and SIGINT (a second signal exits at once). Default `true`. */
  handleSignals?: boolean;
}

function fail(option: string, message: string): never {
  throw new ConfigInvalidError(option, message);
}

/** Logs a failed clean-up after a failed start (the start's own error is what the caller gets). */
function closeFailed(log: PinoLogger, what: string): (error: unknown) => void {
  return (error) => log.warn({ err: errorText(error) }, `closing ${what} after a failed start failed`);
}

/** A free TCP port on `host` (for a default issuer when `port` is 0). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function checkIssuer(issuer: string): string {
  if (!URL.canParse(issuer)) fail("issuer", "must be an absolute http(s) URL");
  const url = new URL(issuer);
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash || url.username) {
    fail("issuer", "must be an http(s) URL without query, fragment or credentials");
  }
  return issuer;
}

function rateLimits(input: Partial<RateLimitOptions> | undefined): RateLimitOptions {
  const out = { ...DEFAULT_RATE_LIMITS, ...input };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 0)
      fail(`rateLimits.${name}`, "must be a non-negative integer");
  }
  if (out.usernameWindowMs <= 0 || out.ipWindowMs <= 0)
    fail("rateLimits", "windows must be longer than zero");
  return out;
}

/**
 * Creates the server: opens the store (a URL or a `Store`), creates the `Auth` (keys are generated
 * on first start and kept in the store), and builds the Fastify app. Does not listen yet. To serve an
 * existing `Auth`, pass it with the `Store` it was created with (`{ auth, store }`); without that
 * store it throws a `TypeError`.
 * @example
 * const server = await createServer({ store: "memory:", port: 0 });
 * const url = await server.listen();
 */
export async function createServer(options: ServerOptions = {}): Promise<RevokitServer> {
  if (options.auth !== undefined && (typeof options.store !== "object" || options.store === null)) {
    throw new TypeError("createServer: pass the store the Auth was created with as `store`");
  }
  const host = options.host ?? "127.0.0.1";
  let port = options.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail("port", "must be an integer from 0 to 65535");
  const level =
    typeof options.logger === "string" || options.logger === undefined ? (options.logger ?? "info") : null;
  if (level !== null && !(LOG_LEVELS as readonly string[]).includes(level)) {
    fail("logger", `level must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const log = level === null ? (options.logger as PinoLogger) : createLogger(level as LogLevel);
  if (
    options.logRequests !== undefined &&
    !(LOG_REQUESTS as readonly string[]).includes(options.logRequests)
  ) {
    fail("logRequests", `must be one of ${LOG_REQUESTS.join(", ")}`);
  }
  const now = options.clock ?? Date.now;
  const bodyLimit = options.bodyLimit ?? 16 * 1024;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1024)
    fail("bodyLimit", "must be an integer of at least 1024");
  const limits = rateLimits(options.rateLimits);
  const realm = options.realm ?? "revokit";
  const refreshTtlMs = parseDuration(options.refreshTokenTtl ?? "30d", "refreshTokenTtl");

  let issuer = options.auth?.issuer ?? options.issuer;
  if (issuer === undefined) {
    if (port === 0) port = await freePort(host);
    issuer = `http://${urlHost(host)}:${port}`;
  }
  checkIssuer(issuer);

  const metrics = new ServerMetrics();
  const store =
    typeof options.store === "object" && options.store !== null
      ? options.store
      : await storeFromUrl(options.store ?? DEFAULT_STORE_URL, {
          logger: log.child({ component: "store" }),
        });
  let auth = options.auth;
  const ownsAuth = auth === undefined;
  let statusLists: StatusLists | undefined;
  if (!auth) {
    statusLists = new StatusLists({
      store,
      registry: () => statusRegistryFor(store),
      issuerBase: issuer.replace(/\/+$/, ""),
      accessTtlMs: parseDuration(options.accessTokenTtl ?? "15m", "accessTokenTtl"),
      now,
      failures: metrics.failureLog(log, "status_lists", "status lists: purging old lists failed"),
    });
    const lists = statusLists;
    try {
      auth = await createAuth({
        tokenStatus: (token) => lists.tokenStatus(token),
        issuer,
        audience: options.audience ?? "api",
        store,
        accessTokenTtl: options.accessTokenTtl,
        refreshTokenTtl: options.refreshTokenTtl,
        refreshIdleTtl: options.refreshIdleTtl,
        refreshGrace: options.refreshGrace,
        maxSessionsPerUser: options.maxSessionsPerUser,
        algorithm: options.algorithm,
        maxStaleness: options.maxStaleness,
        failMode: options.failMode,
        clock: options.clock,
        logger: log.child({ component: "auth" }),
        ...options.authOptions,
      });
    } catch (error) {
      await store.close().catch(closeFailed(log, "the store"));
      throw error;
    }
  }

  const base = issuer.replace(/\/+$/, "");
  const limiter = new LoginLimiter(auth, store, limits, now, (kind) =>
    metrics.count(metrics.rateLimited, kind),
  );
  const ctx: ServerContext = {
    auth,
    store,
    users: new Users(auth, store, passwordPolicy(options)),
    clients: new ClientAuthenticator(auth, store, realm, now, limiter),
    limiter,
    metrics,
    issuer: base,
    statusLists,
    realm,
    register: options.register ?? true,
    cookie: {
      secure: options.cookieSecure ?? issuer.startsWith("https:"),
      maxAgeSec: Math.floor(refreshTtlMs / 1000),
      origin: new URL(issuer).origin,
    },
    bearer: requireAuth(auth, { realm }),
    webRoot: new URL(options.webRoot ?? new URL("../../web/", import.meta.url)),
    now,
  };
  if (!ctx.webRoot.href.endsWith("/")) ctx.webRoot = new URL(`${ctx.webRoot.href}/`);

  let app: FastifyInstance;
  try {
    app = await buildApp(ctx, {
      logger: log,
      bodyLimit,
      trustProxy: options.trustProxy ?? false,
      https: issuer.startsWith("https:"),
      logRequests: options.logRequests,
    });
  } catch (error) {
    if (ownsAuth) await auth.close().catch(closeFailed(log, "the Auth"));
    throw error;
  }

  const theAuth = auth;
  const storeUrl =
    ownsAuth && typeof options.store !== "object"
      ? redactStoreUrl(options.store ?? DEFAULT_STORE_URL)
      : undefined;
  let closed: Promise<void> | undefined;
  return {
    app,
    auth: theAuth,
    store,
    issuer,
    log,
    async listen() {
      await app.listen({ host, port });
      const address = app.server.address();
      const bound = typeof address === "object" && address ? address.port : port;
      const url = `http://${urlHost(host)}:${bound}`;
      log.info(
        {
          url,
          issuer,
          store: store.kind,
          storeUrl,
          failMode: theAuth.failMode,
          register: ctx.register,
        },
        "revokit listening",
      );
      return url;
    },
    close() {
      closed ??= (async () => {
        try {
          await app.close();
        } finally {
          if (ownsAuth) await theAuth.close();
        }
      })();
      return closed;
    },
  };
}

/**
 * Creates the server and starts listening; by default closes gracefully on SIGTERM/SIGINT (requests
 * in flight finish, then the store is closed; a second signal exits at once).
 * @example
 * const server = await startServer({ store: process.env.REVOKIT_STORE });
 */
export async function startServer(
  options: StartServerOptions = {},
): Promise<RevokitServer & { url: string }> {
  const server = await createServer(options);
  let url: string;
  try {
    url = await server.listen();
  } catch (error) {
    await server.close().catch(closeFailed(server.log, "the server"));
    throw error;
  }
  if (options.handleSignals ?? true) {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        server.log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      server.log.info({ signal }, "shutting down");
      const force = setTimeout(() => {
        server.log.error("shutdown took too long: exiting");
        process.exit(1);
      }, 10_000);
      force.unref();
      close().then(
        () => server.log.info("stopped"),
        (error: unknown) => {
          server.log.error({ err: error }, "shutdown failed");
          process.exitCode = 1;
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    const close = server.close;
    server.close = () => {
      if (!stopping) {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      }
      return close();
    };
  }
  return Object.assign(server, { url });
}
