/**
 * Express middleware: `requireAuth(auth, options)` puts the verified claims on `req.auth`, or hands an
 * {@link AuthHttpError} (status, `WWW-Authenticate` / `Retry-After` headers, JSON body) to `next(err)`;
 * {@link authErrorHandler} answers it. Works with Express 4 and 5.
 * @example
 * import { authErrorHandler, requireAuth } from "revokit/express";
 * app.get("/me", requireAuth(auth), (req, res) => res.json({ user: req.auth?.sub }));
 * app.get("/admin", requireAuth(auth, { scope: "admin", strict: true }), adminHandler);
 * app.get("/me", withAuth(auth, (req, res) => res.json(req.auth))); // the same inside the handler
 * app.use(authErrorHandler());
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from "express";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import {
  type AuthenticateResult,
  AuthHttpError,
  authenticateNow,
  nodeAuthorization,
  type RequireAuthOptions,
  type ResolvedAuthOptions,
  refusalError,
  resolveAuthOptions,
} from "./bearer.js";

export { AuthHttpError, type OnRefused, type RequireAuthOptions } from "./bearer.js";

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
export function requireAuth(auth: Auth, options?: RequireAuthOptions<Request>): RequestHandler {
  return checked(auth, resolveAuthOptions(auth, options), (_req, _res, next) => next());
}

/**
 * {@link requireAuth} as part of the route's handler rather than a middleware before it: the same
 * checks, `req.auth`, and refusals handed to `next` for {@link authErrorHandler}. What the handler
 * returns is returned (Express 5 answers a rejected promise with `next(error)`).
 * @example
 * app.get("/me", withAuth(auth, (req, res) => res.json(req.auth)));
 */
export function withAuth(
  auth: Auth,
  handler: RequestHandler,
  options?: RequireAuthOptions<Request>,
): RequestHandler {
  const resolved = resolveAuthOptions(auth, options);
  if (typeof handler !== "function") throw new TypeError("withAuth: handler must be a function");
  return checked(auth, resolved, handler);
}

/**
 * The check both forms run: `then` (the next middleware's step, or the route's handler) on a valid
 * token, the refusal to `next` otherwise. Usually answered at once (no I/O), with no asynchronous step.
 */
function checked(auth: Auth, resolved: ResolvedAuthOptions<Request>, then: RequestHandler): RequestHandler {
  const pass = (req: Request, res: Response, next: NextFunction, result: AuthenticateResult) => {
    if (!("claims" in result)) return refuse(req, next, result, resolved);
    req.auth = result.claims;
    return then(req, res, next);
  };
  return function requireAuth(req, res, next) {
    let result: AuthenticateResult | Promise<AuthenticateResult>;
    try {
      result = authenticateNow(auth, readInput(req, resolved.cookie), resolved);
    } catch (error) {
      return next(error);
    }
    if (!(result instanceof Promise)) return pass(req, res, next, result);
    // Also an error of the handler's own promise goes to `next` (Express 4 would not catch it).
    return result.then((r) => pass(req, res, next, r)).catch((error: unknown) => next(error));
  };
}

/** Hands a refusal to `next` (after `onRefused`). */
function refuse(
  req: Request,
  next: NextFunction,
  result: Exclude<AuthenticateResult, { claims: unknown }>,
  options: ResolvedAuthOptions<Request>,
): void {
  const refusal = refusalError(result);
  try {
    options.onRefused?.(refusal, req);
  } catch (error) {
    next(error);
    return;
  }
  next(refusal);
}

function readInput(req: Request, cookieName: string | undefined) {
  return {
    authorization: nodeAuthorization(req),
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
