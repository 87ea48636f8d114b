import { parseDuration } from "../core/duration.js";
import { type StartServerOptions, startServer } from "../server/index.js";
import { LOG_LEVELS, LOG_REQUESTS, type LogLevel, type LogRequests } from "../server/logger.js";
import { STORE_FLAG, storeUrlFlag } from "./admin.js";
import {
  algorithmFlag,
  commandHelp,
  durationFlag,
  type Flags,
  integerFlag,
  optional,
  type Parsed,
  parseCommand,
} from "./args.js";
import { usage } from "./errors.js";

/** Every flag of `serve`, each also read from its environment variable. */
export const SERVE_FLAGS: Flags = {
  host: { type: "string", env: "HOST", default: "127.0.0.1", value: "HOST", help: "interface to listen on" },
  port: {
    type: "string",
    env: "PORT",
    default: "3000",
    value: "PORT",
    help: "port to listen on (0: a free one)",
  },
  store: STORE_FLAG,
  issuer: {
    type: "string",
    env: "REVOKIT_ISSUER",
    value: "URL",
    help: "token issuer and public base URL (default http://HOST:PORT)",
  },
  audience: {
    type: "string",
    env: "REVOKIT_AUDIENCE",
    default: "api",
    value: "AUD",
    help: "access-token audience",
  },
  "no-register": {
    type: "boolean",
    help: "close POST /auth/register (env REVOKIT_REGISTER=false)",
  },
  "access-token-ttl": {
    type: "string",
    env: "REVOKIT_ACCESS_TOKEN_TTL",
    default: "15m",
    value: "DURATION",
    help: "access-token life",
  },
  "refresh-token-ttl": {
    type: "string",
    env: "REVOKIT_REFRESH_TOKEN_TTL",
    default: "30d",
    value: "DURATION",
    help: "absolute session life",
  },
  "refresh-idle-ttl": {
    type: "string",
    env: "REVOKIT_REFRESH_IDLE_TTL",
    default: "7d",
    value: "DURATION",
    help: "a session unused this long ends",
  },
  "refresh-grace": {
    type: "string",
    env: "REVOKIT_REFRESH_GRACE",
    default: "10s",
    value: "DURATION",
    help: "how long a just-rotated refresh token may be replayed (concurrent tabs)",
  },
  "max-sessions-per-user": {
    type: "string",
    env: "REVOKIT_MAX_SESSIONS_PER_USER",
    default: "100",
    value: "N",
    help: "live sessions (devices) a user may hold; past it, a login ends the oldest",
  },
  algorithm: {
    type: "string",
    env: "REVOKIT_ALGORITHM",
    default: "RS256",
    value: "ALG",
    help: "signing algorithm: RS256 (verified by every JWT library), ES256, EdDSA or HS256",
  },
  "max-staleness": {
    type: "string",
    env: "REVOKIT_MAX_STALENESS",
    default: "1s",
    value: "DURATION",
    help: "replica age beyond which verification asks the store",
  },
  "fail-mode": {
    type: "string",
    env: "REVOKIT_FAIL_MODE",
    default: "closed",
    value: "MODE",
    help: "closed (503 when revocation state is unknown) or open (accept, log, count)",
  },
  "cookie-secure": {
    type: "boolean",
    env: "REVOKIT_COOKIE_SECURE",
    help: "mark the refresh cookie Secure even with an http: issuer",
  },
  "trust-proxy": {
    type: "string",
    env: "REVOKIT_TRUST_PROXY",
    default: "false",
    value: "PROXIES",
    help: "believe X-Forwarded-For from: true, false, a hop count, or comma-separated addresses/CIDRs",
  },
  "login-max-failures": {
    type: "string",
    env: "REVOKIT_LOGIN_MAX_FAILURES",
    default: "10",
    value: "N",
    help: "failed logins per username per window (0: no limit)",
  },
  "login-failure-window": {
    type: "string",
    env: "REVOKIT_LOGIN_FAILURE_WINDOW",
    default: "15m",
    value: "DURATION",
    help: "window of the username limit",
  },
  "ip-max-attempts": {
    type: "string",
    env: "REVOKIT_IP_MAX_ATTEMPTS",
    default: "100",
    value: "N",
    help: "login and registration attempts per IP per window (0: no limit)",
  },
  "ip-window": {
    type: "string",
    env: "REVOKIT_IP_WINDOW",
    default: "1m",
    value: "DURATION",
    help: "window of the IP limit",
  },
  "log-level": {
    type: "string",
    env: "REVOKIT_LOG_LEVEL",
    default: "info",
    value: "LEVEL",
    help: `log level: ${LOG_LEVELS.join(", ")}`,
  },
  "log-requests": {
    type: "string",
    env: "REVOKIT_LOG_REQUESTS",
    default: "all",
    value: "WHICH",
    help: "one info line per request (id, method, route, status, ms; no URL, header or body): all, errors (5xx) or off",
  },
};

/** Help of `serve`. */
export const SERVE_HELP = commandHelp(
  `Usage: revokit serve [options]

Runs the auth server (the HTTP API of docs/http-api.md) until SIGTERM or SIGINT, creating the
store if it does not exist yet. Every option also reads the environment variable shown; a flag wins
over the environment. Nodes started on the same store share keys, users, sessions, rate limits and
revocations.

`,
  SERVE_FLAGS,
);

function trustProxy(value: string): StartServerOptions["trustProxy"] {
  const v = value.trim().toLowerCase();
  if (v === "true") return true;
  if (v === "false" || v === "") return false;
  if (/^\d+$/.test(v)) return Number(v);
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Turns `serve`'s flags into server options; every bad value is a usage error naming its flag. */
export function serveOptions(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): StartServerOptions {
  if (parsed.positionals.length > 0)
    throw usage(`serve takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  const store = storeUrlFlag(parsed);
  const failMode = optional(parsed, "fail-mode");
  if (failMode !== "closed" && failMode !== "open") throw usage('--fail-mode must be "closed" or "open"');
  const level = optional(parsed, "log-level") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw usage(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  const logRequests = optional(parsed, "log-requests") ?? "all";
  if (!(LOG_REQUESTS as readonly string[]).includes(logRequests))
    throw usage(`--log-requests must be one of ${LOG_REQUESTS.join(", ")}`);
  let register = parsed.values["no-register"] !== true;
  if (parsed.values["no-register"] !== true && env.REVOKIT_REGISTER !== undefined) {
    const v = env.REVOKIT_REGISTER.trim().toLowerCase();
    if (["0", "false", "no", "off"].includes(v)) register = false;
    else if (!["1", "true", "yes", "on", ""].includes(v))
      throw usage("REVOKIT_REGISTER must be true or false");
  }
  const issuer = optional(parsed, "issuer");
  if (issuer !== undefined && !/^https?:\/\/[^/?#\s]+/i.test(issuer))
    throw usage("--issuer must be an http(s) URL");
  const ms = (name: string) => durationFlag(parsed, name);
  const windowMs = (name: string) => {
    const v = ms(name);
    return v === undefined ? undefined : parseDuration(v, `--${name}`);
  };
  return {
    host: optional(parsed, "host"),
    port: integerFlag(parsed, "port", 0, 65535),
    store,
    issuer,
    audience: optional(parsed, "audience"),
    register,
    accessTokenTtl: ms("access-token-ttl"),
    refreshTokenTtl: ms("refresh-token-ttl"),
    refreshIdleTtl: ms("refresh-idle-ttl"),
    refreshGrace: ms("refresh-grace"),
    maxSessionsPerUser: integerFlag(parsed, "max-sessions-per-user", 1, 1_000_000),
    algorithm: algorithmFlag(parsed),
    maxStaleness: ms("max-staleness"),
    failMode,
    cookieSecure: parsed.values["cookie-secure"] === true ? true : undefined,
    trustProxy: trustProxy(optional(parsed, "trust-proxy") ?? "false"),
    rateLimits: {
      usernameFailures: integerFlag(parsed, "login-max-failures", 0, 1_000_000),
      usernameWindowMs: windowMs("login-failure-window"),
      ipAttempts: integerFlag(parsed, "ip-max-attempts", 0, 1_000_000),
      ipWindowMs: windowMs("ip-window"),
    },
    logger: level as LogLevel,
    logRequests: logRequests as LogRequests,
  };
}

/** `revokit serve`: runs until a signal; resolves once listening. */
export async function serve(args: string[]): Promise<number> {
  const parsed = parseCommand(args, SERVE_FLAGS, SERVE_HELP);
  if (!parsed) return 0;
  const options = serveOptions(parsed);
  const limits = Object.fromEntries(
    Object.entries(options.rateLimits ?? {}).filter(([, v]) => v !== undefined),
  );
  await startServer({ ...options, rateLimits: limits, handleSignals: true });
  return -1; // keep running
}
