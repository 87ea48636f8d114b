/**
 * Hono middleware: `requireAuth(auth, options)` sets `c.get("auth")` to the verified claims, or throws
 * an `HTTPException` carrying a ready `Response` (status, `WWW-Authenticate` / `Retry-After` headers,
 * JSON body `{ error, error_description }`), which Hono's default error handling returns as is.
 * @example
 * import { requireAuth } from "revokit/hono";
 * app.get("/me", requireAuth(auth), (c) => c.json(c.get("auth")));
 * app.get("/admin", requireAuth(auth, { scope: "admin", strict: true }), adminHandler);
 * // The same inside the handler, with no middleware step (Hono composes a chain for two handlers):
 * app.get("/me", withAuth(auth, (c) => c.json(c.get("auth"))));
 */
import type { Context, Env, Handler, Input, MiddlewareHandler, Next } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import {
  type AuthenticateResult,
  authenticateNow,
  type BearerInput,
  nodeAuthorization,
  type RequireAuthOptions,
  type ResolvedAuthOptions,
  refusalError,
  resolveAuthOptions,
} from "./bearer.js";

export { AuthHttpError, type OnRefused, type RequireAuthOptions } from "./bearer.js";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified access-token claims, set by `requireAuth` from `revokit/hono`. */
    auth: AccessTokenClaims;
  }
}

/**
 * A middleware that lets a request through only with a valid, unrevoked access token (and the
 * required scopes). Options are checked here: a bad one throws a `TypeError` at once.
 * @example
 * app.get("/me", requireAuth(auth), (c) => c.json(c.get("auth")));
 */
export function requireAuth(auth: Auth, options?: RequireAuthOptions<Context>): MiddlewareHandler {
  const resolved = resolveAuthOptions(auth, options);
  return function requireAuth(c, next) {
    try {
      const result = authenticateNow(auth, readInput(c, resolved.cookie), resolved);
      if (result instanceof Promise) return result.then((r) => settle(c, next, r, resolved));
      // Usually answered at once (no I/O): straight on to the next handler.
      return settle(c, next, result, resolved);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

function settle(
  c: Context,
  next: Next,
  result: AuthenticateResult,
  options: ResolvedAuthOptions<Context>,
): Promise<void> {
  if ("claims" in result) {
    c.set("auth", result.claims);
    return next();
  }
  throw refusal(c, result, options);
}

/**
 * {@link requireAuth} as part of the route's handler rather than a middleware before it: the same
 * checks, answers and `c.get("auth")`, and a refusal thrown as the same `HTTPException`. A route with
 * one handler skips Hono's middleware composition, which costs more than the check itself.
 * @example
 * app.get("/me", withAuth(auth, (c) => c.json(c.get("auth"))));
 * app.post("/admin/wipe", withAuth(auth, wipe, { scope: "admin", strict: true }));
 */
export function withAuth<E extends Env, P extends string, I extends Input>(
  auth: Auth,
  handler: Handler<E, P, I>,
  options?: RequireAuthOptions<Context>,
): Handler<E, P, I> {
  const resolved = resolveAuthOptions(auth, options);
  if (typeof handler !== "function") throw new TypeError("withAuth: handler must be a function");
  const pass = (c: Context<E, P, I>, next: Next, result: AuthenticateResult) => {
    if (!("claims" in result)) throw refusal(c, result, resolved);
    c.set("auth", result.claims);
    return handler(c, next);
  };
  return function withAuth(c, next) {
    const result = authenticateNow(auth, readInput(c, resolved.cookie), resolved);
    if (result instanceof Promise) return result.then((r) => pass(c, next, r));
    return pass(c, next, result);
  };
}

/** The `HTTPException` answering a refusal (after `onRefused`). */
function refusal(
  c: Context,
  result: Exclude<AuthenticateResult, { claims: unknown }>,
  options: ResolvedAuthOptions<Context>,
): HTTPException {
  const error = refusalError(result);
  options.onRefused?.(error, c);
  const { status, headers, body } = result.error;
  const res = new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/json; charset=utf-8" },
  });
  return new HTTPException(status as ContentfulStatusCode, {
    res,
    message: body.error_description,
    cause: error,
  });
}

/**
 * Reads the headers from Node's request when Hono runs on `@hono/node-server` (it passes it as
 * `c.env.incoming`): no `Headers` object is built for it. Elsewhere, through `c.req`.
 */
function readInput(c: Context, cookieName: string | undefined): BearerInput {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (isNodeRequest(incoming)) {
    return {
      authorization: nodeAuthorization(incoming),
      cookieHeader: cookieName === undefined ? undefined : incoming.headers.cookie,
      cookieName,
    };
  }
  return {
    authorization: c.req.header("authorization"),
    cookieHeader: cookieName === undefined ? undefined : c.req.header("cookie"),
    cookieName,
  };
}

function isNodeRequest(
  value: unknown,
): value is { headers: { authorization?: string; cookie?: string }; rawHeaders: string[] } {
  return (
    typeof value === "object" &&
    value !== null &&
    // Not `headers`: Node builds that object only when it is first read.
    Array.isArray((value as { rawHeaders?: unknown }).rawHeaders)
  );
}
