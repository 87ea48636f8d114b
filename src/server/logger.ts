import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

/** Log levels the server accepts. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which requests the server logs (one line each, at info): all, only 5xx answers, or none. */
export const LOG_REQUESTS = ["all", "errors", "off"] as const;
/** One of {@link LOG_REQUESTS}. */
export type LogRequests = (typeof LOG_REQUESTS)[number];

/**
 * Paths pino removes from every log line. Requests are logged by our own serializer (method, path
 * without the query string, IP), so these are a second line of defence: no Authorization header,
 * cookie, token, secret or password can reach a log.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
  "password",
  "*.password",
  "current_password",
  "*.current_password",
  "new_password",
  "*.new_password",
  "token",
  "*.token",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "client_secret",
  "*.client_secret",
  "body",
  "*.body",
];

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  id?: string;
}

/** Logs a request as method, path (query string dropped: it may hold a token) and IP. */
function serializeRequest(req: RequestLike): Record<string, unknown> {
  const url = typeof req.url === "string" ? req.url.split("?")[0] : undefined;
  return { method: req.method, url, ip: req.ip, id: req.id };
}

/** The code of an error, when it has a string one (`ERR_STORE_UNAVAILABLE`, `ECONNREFUSED`, `22021`). */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Errors of the store drivers (pg, ioredis, better-sqlite3): their messages may quote values. */
function isDriverError(err: Error): boolean {
  return (
    DRIVER_ERRORS.has(err.name) ||
    DRIVER_ERRORS.has(err.constructor?.name ?? "") ||
    "severity" in err || // pg
    "command" in err // ioredis
  );
}

const DRIVER_ERRORS = new Set(["DatabaseError", "ReplyError", "SqliteError", "RedisError", "AbortError"]);

/**
 * Logs an error as type, code and message, and its cause as type and code only: a driver's message
 * may quote the values of a query (an id, a username), so it never reaches the log. A string is
 * kept as it is: it is `errorText`'s safe description (what background failures log).
 */
function serializeError(err: unknown): Record<string, unknown> | string {
  if (typeof err === "string") return err;
  if (!(err instanceof Error)) return { type: typeof err };
  const out: Record<string, unknown> = { type: err.name };
  if (!isDriverError(err)) out.message = err.message;
  const code = codeOf(err);
  if (code) out.code = code;
  if (err.cause instanceof Error) {
    const causeCode = codeOf(err.cause);
    out.cause = causeCode ? { type: err.cause.name, code: causeCode } : { type: err.cause.name };
  }
  return out;
}

/** The server's pino logger: JSON lines, redacted, with request and error serializers that leak nothing. */
export function createLogger(level: LogLevel = "info", destination?: DestinationStream): PinoLogger {
  return pino(
    {
      level,
      base: { service: "revokit", pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: {
        req: serializeRequest,
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: serializeError,
      },
    },
    destination,
  );
}
