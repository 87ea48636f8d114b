/**
 * Hono middleware: `requireAuth(auth, options)` sets `c.get("auth")` to the verified claims, or throws
 * an `HTTPException` carrying a ready `Response` (status, `WWW-Authenticate` / `Retry-After` headers,
 * JSON body `{ error, error_description }`), which Hono's default error handling returns as is.
 * @example
 * import { requireAuth } from "revokit/hono";
 * app.get("/me", requireAuth(auth), (c) => c.json(c.get("auth")));
 * app.get("/admin", requireAuth(auth, { scope: "admin", strict: true }), adminHandler);
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import { AuthHttpError, authenticate, type RequireAuthOptions, resolveAuthOptions } from "./bearer.js";

export type { RequireAuthOptions } from "./bearer.js";

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
export function requireAuth(auth: Auth, options?: RequireAuthOptions): MiddlewareHandler {
  const resolved = resolveAuthOptions(auth, options);
  return async function requireAuth(c, next) {
    const result = await authenticate(
      auth,
      {
        authorization: c.req.header("authorization"),
        cookieHeader: resolved.cookie === undefined ? undefined : c.req.header("cookie"),
        cookieName: resolved.cookie,
      },
      resolved,
    );
    if ("error" in result) {
      const { status, headers, body } = result.error;
      const res = new Response(JSON.stringify(body), {
        status,
        headers: { ...headers, "content-type": "application/json; charset=utf-8" },
      });
      throw new HTTPException(status as ContentfulStatusCode, {
        res,
        message: body.error_description,
        cause: new AuthHttpError(result.error),
      });
    }
    c.set("auth", result.claims);
    await next();
  };
}
