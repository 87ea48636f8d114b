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

function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") out.code = code;
  if (err.cause instanceof Error) out.cause = err.cause.message;
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
