import type { Socket } from "node:net";
import fastifyCookie from "@fastify/cookie";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger as PinoLogger } from "pino";
import { revokit } from "../http/fastify.js";
import { answerFor, notFound, unavailable } from "./api-error.js";
import type { ServerContext } from "./context.js";
import type { LogRequests } from "./logger.js";
import { acceptAnything } from "./parsers.js";
import { authRoutes } from "./routes/auth.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { eventRoutes } from "./routes/events.js";
import { feedRoutes } from "./routes/feed.js";
import { oauthRoutes } from "./routes/oauth.js";
import { opsRoutes } from "./routes/ops.js";
import { statusRoutes } from "./routes/status.js";
import { webRoutes } from "./routes/web.js";

/** Options of {@link buildApp} that are not in the context. */
export interface AppOptions {
  logger: PinoLogger;
  bodyLimit: number;
  trustProxy: boolean | number | string | string[];
  /** Whether the issuer is `https:` (adds `Strict-Transport-Security`). */
  https: boolean;
  /** Which requests get their one log line: every one (default), only 5xx answers, or none. */
  logRequests?: LogRequests;
}

/** The JSON error answer for a client error that never became a request (bad HTTP, huge headers). */
function clientErrorResponse(status: number, reason: string, code: string, description: string): string {
  const body = JSON.stringify({ error: code, error_description: description });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

function onClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  let response: string;
  if (error.code === "HPE_HEADER_OVERFLOW") {
    response = clientErrorResponse(
      431,
      "Request Header Fields Too Large",
      "invalid_request",
      "The request headers are too large",
    );
  } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    response = clientErrorResponse(408, "Request Timeout", "invalid_request", "The request took too long");
  } else {
    response = clientErrorResponse(400, "Bad Request", "invalid_request", "The request is malformed");
  }
  if (socket.writable) {
    socket.end(response);
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
}

/**
 * Builds the Fastify app of the standalone server: every route of docs/http-api.md, one error handler (every
 * error is `{ error, error_description }`, the only 5xx a 503), security headers, request metrics.
 */
export async function buildApp(ctx: ServerContext, options: AppOptions): Promise<FastifyInstance> {
  let closing = false;
  const handleError = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { answer, fault } = answerFor(error);
    if (fault) {
      request.log.error({ err: error }, "request failed");
    } else if (answer.status === 503) {
      request.log.warn({ err: error }, "request answered 503");
    }
    return reply
      .code(answer.status)
      .headers(answer.headers)
      .type("application/json; charset=utf-8")
      .send(answer.body);
  };

  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    // A hop count becomes proxy-addr's function form (Fastify's types take no number).
    trustProxy:
      typeof options.trustProxy === "number"
        ? (_address: string, hop: number) => hop < (options.trustProxy as number)
        : options.trustProxy,
    return503OnClosing: false,
    requestTimeout: 30_000,
    clientErrorHandler: onClientError,
    frameworkErrors: (error: FastifyError, request, reply) => {
      void handleError(error, request, reply);
    },
    routerOptions: { maxParamLength: 256 },
    // One line per request, written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });

  acceptAnything(app);
  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) => handleError(notFound("No such endpoint"), request, reply));

  await app.register(fastifyCookie);
  await app.register(revokit, { auth: ctx.auth });

  app.addHook("onRequest", async (_request, reply) => {
    if (closing) {
      reply.header("connection", "close");
      throw unavailable(1, "The server is shutting down");
    }
  });

  app.addHook("onSend", async (request, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    if (!reply.hasHeader("content-security-policy")) {
      reply.header("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    }
    if (options.https) reply.header("strict-transport-security", "max-age=31536000");
    const path = request.url;
    if (path.startsWith("/auth/") || path.startsWith("/oauth/")) {
      reply.header("cache-control", "no-store");
      reply.header("pragma", "no-cache");
    }
    return payload;
  });

  const logRequests = options.logRequests ?? "all";
  const log = options.logger;
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    ctx.metrics.count(ctx.metrics.requests, `${request.method}|${route}|${status}`);
    ctx.metrics.durations.observe({ method: request.method, route }, ms / 1000);
    // The route pattern, never the URL: a path or query string may carry an id or a token.
    if (logRequests === "all" || (logRequests === "errors" && status >= 500)) {
      log.info(
        { reqId: request.id, method: request.method, route, status, ms: Math.round(ms * 10) / 10 },
        "request completed",
      );
    }
  });

  app.addHook("preClose", async () => {
    closing = true;
  });

  await app.register(authRoutes, ctx);
  await app.register(oauthRoutes, ctx);
  await app.register(discoveryRoutes, ctx);
  await app.register(feedRoutes, ctx);
  await app.register(eventRoutes, ctx);
  await app.register(statusRoutes, ctx);
  await app.register(opsRoutes, ctx);
  await app.register(webRoutes, ctx);
  return app;
}
