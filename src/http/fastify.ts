/**
 * Fastify integration: the {@link revokit} plugin decorates `request.auth` (null until
 * authenticated), and `requireAuth(auth, options)` returns a `preHandler` hook that sets it to the
 * verified claims or answers the request with the status, `WWW-Authenticate` / `Retry-After` headers
 * and the JSON body `{ error, error_description }`.
 * @example
 * import { revokit, requireAuth } from "revokit/fastify";
 * await app.register(revokit, { auth });
 * app.get("/me", { preHandler: requireAuth(auth) }, async (request) => request.auth);
 * app.get("/admin", { preHandler: requireAuth(auth, { scope: "admin", strict: true }) }, adminHandler);
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import fp from "fastify-plugin";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import {
  type AuthenticateResult,
  assertAuth,
  authenticateNow,
  nodeAuthorization,
  type RequireAuthOptions,
  type ResolvedAuthOptions,
  refusalError,
  resolveAuthOptions,
} from "./bearer.js";

export { AuthHttpError, type OnRefused, type RequireAuthOptions } from "./bearer.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access-token claims, set by `requireAuth` from `revokit/fastify`; `null` before. */
    auth: AccessTokenClaims | null;
  }
}

/** Options of the {@link revokit} plugin. */
export interface RevokitPluginOptions {
  /** The `Auth` the application verifies tokens with. */
  auth: Auth;
}

const plugin: FastifyPluginAsync<RevokitPluginOptions> = async (fastify, options) => {
  assertAuth(options?.auth, "revokit: options.auth");
  if (!fastify.hasRequestDecorator("auth")) fastify.decorateRequest("auth", null);
};

/**
 * Registers revokit on a Fastify instance (not encapsulated): decorates `request.auth` with `null`.
 * @example
 * await app.register(revokit, { auth });
 */
export const revokit = fp(plugin, { fastify: "4.x || 5.x", name: "revokit" });

/**
 * A `preHandler` hook that lets a request through only with a valid, unrevoked access token (and the
 * required scopes). Options are checked here: a bad one throws a `TypeError` at once. Failures are
 * answered directly (so the body is exactly `{ error, error_description }`); errors that are not
 * authentication outcomes go to Fastify's error handler.
 * @example
 * app.get("/me", { preHandler: requireAuth(auth) }, async (request) => request.auth);
 */
export function requireAuth(
  auth: Auth,
  options?: RequireAuthOptions<FastifyRequest>,
): preHandlerAsyncHookHandler {
  const resolved = resolveAuthOptions(auth, options);
  return function requireAuth(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    let result: AuthenticateResult | Promise<AuthenticateResult>;
    try {
      result = authenticateNow(
        auth,
        {
          authorization: nodeAuthorization(request.raw),
          cookieHeader: resolved.cookie === undefined ? undefined : request.headers.cookie,
          cookieName: resolved.cookie,
        },
        resolved,
      );
    } catch (error) {
      return Promise.reject(error);
    }
    // Usually answered at once (no I/O): an already settled promise, no further asynchronous step.
    if (result instanceof Promise) return result.then((r) => settle(request, reply, r, resolved));
    try {
      const answered = settle(request, reply, result, resolved);
      return answered === undefined ? PASS : Promise.resolve(answered);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

const PASS: Promise<undefined> = Promise.resolve(undefined);

/** Lets the request through (`undefined`), or answers the refusal and returns the reply. */
function settle(
  request: FastifyRequest,
  reply: FastifyReply,
  result: AuthenticateResult,
  options: ResolvedAuthOptions<FastifyRequest>,
): FastifyReply | undefined {
  if ("claims" in result) {
    request.auth = result.claims;
    return undefined;
  }
  options.onRefused?.(refusalError(result), request);
  const { status, headers, body } = result.error;
  return reply.code(status).headers(headers).type("application/json; charset=utf-8").send(body);
}
