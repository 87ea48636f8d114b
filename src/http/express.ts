/**
 * Express middleware: `requireAuth(auth, options)` puts the verified claims on `req.auth`, or hands an
 * {@link AuthHttpError} (status, `WWW-Authenticate` / `Retry-After` headers, JSON body) to `next(err)`;
 * {@link authErrorHandler} answers it. Works with Express 4 and 5.
 * @example
 * import { authErrorHandler, requireAuth } from "revokit/express";
 * app.get("/me", requireAuth(auth), (req, res) => res.json({ user: req.auth?.sub }));
 * app.get("/admin", requireAuth(auth, { scope: "admin", strict: true }), adminHandler);
 * app.use(authErrorHandler());
 */
import type { ErrorRequestHandler, Request, RequestHandler } from "express";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import { AuthHttpError, authenticate, type RequireAuthOptions, resolveAuthOptions } from "./bearer.js";

export { AuthHttpError, type RequireAuthOptions } from "./bearer.js";

declare module "express-serve-static-core" {
  interface Request {
    /** The verified access-token claims, set by `requireAuth` from `revokit/express`. */
    auth?: AccessTokenClaims;
  }
}

/**
 * A middleware that lets a request through only with a valid, unrevoked access token (and the
 * required scopes). Options are checked here: a bad one throws a `TypeError` at once.
 * @example
 * app.get("/me", requireAuth(auth), (req, res) => res.json(req.auth));
 */
export function requireAuth(auth: Auth, options?: RequireAuthOptions): RequestHandler {
  const resolved = resolveAuthOptions(auth, options);
  return function requireAuth(req, _res, next) {
    void authenticate(auth, readInput(req, resolved.cookie), resolved).then(
      (result) => {
        if ("error" in result) return next(new AuthHttpError(result.error));
        req.auth = result.claims;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

function readInput(req: Request, cookieName: string | undefined) {
  return {
    // headersDistinct keeps every Authorization line; `headers` keeps only the first.
    authorization: req.headersDistinct?.authorization ?? req.headers.authorization,
    cookieHeader: cookieName === undefined ? undefined : req.headers.cookie,
    cookieName,
  };
}

/**
 * An error handler that answers the errors of {@link requireAuth}: status, headers and the JSON body
 * `{ error, error_description }`. Other errors go on to the next error handler. Register it after the routes.
 * @example
 * app.use(authErrorHandler());
 */
export function authErrorHandler(): ErrorRequestHandler {
  return function authErrorHandler(err, _req, res, next) {
    if (!(err instanceof AuthHttpError) || res.headersSent) return next(err);
    res.status(err.status).set(err.headers).json(err.body);
  };
}
