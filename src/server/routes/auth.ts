import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { TokenSet } from "../../auth.js";
import type { AccessTokenClaims } from "../../core/access-token.js";
import { LoginStaleError } from "../../core/errors.js";
import { ApiError, invalidRequest, notFound } from "../api-error.js";
import { DEFAULT_CLIENT } from "../clients.js";
import type { ServerContext } from "../context.js";
import { checkCsrf, clearRefreshCookie, readRefreshCookie, setRefreshCookie } from "../cookies.js";
import { acceptJson, jsonObject } from "../parsers.js";
import { passwordProblem, usernameProblem } from "../users.js";

/** What a session id can look like (they are random base64url); anything else is no session. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Longest `User-Agent` kept with a session. */
const USER_AGENT_MAX = 1024;

/** The token response of `/auth/login`, `/auth/refresh` and `/oauth/token`. */
export function tokenResponse(tokens: TokenSet, withRefreshToken: boolean): Record<string, unknown> {
  return {
    access_token: tokens.accessToken,
    token_type: "Bearer",
    expires_in: tokens.expiresIn,
    ...(withRefreshToken ? { refresh_token: tokens.refreshToken } : {}),
    session_id: tokens.sessionId,
  };
}

function cookieFlag(body: Record<string, unknown>): boolean {
  const flag = body.cookie;
  if (flag === undefined) return false;
  if (typeof flag !== "boolean") throw invalidRequest("cookie must be a boolean");
  return flag;
}

/** A string field that may be absent; present, it must be a non-empty string (`null` is not absent). */
function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0)
    throw invalidRequest(`${name} must be a non-empty string`);
  return value;
}

function claimsOf(request: FastifyRequest): AccessTokenClaims {
  if (!request.auth) throw new Error("route reached without authentication");
  return request.auth;
}

const credentialsWrong = () =>
  new ApiError(401, "invalid_credentials", "The username or password is incorrect");

/** The first-party JSON API under `/auth`. */
export const authRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  acceptJson(app);
  const { auth, users, limiter, metrics } = ctx;

  const sendTokens = (reply: FastifyReply, tokens: TokenSet, cookie: boolean) => {
    if (cookie) setRefreshCookie(reply, tokens.refreshToken, ctx.cookie);
    return reply.code(200).send(tokenResponse(tokens, !cookie));
  };

  const userAgent = (request: FastifyRequest) => {
    const ua = request.headers["user-agent"];
    return typeof ua === "string" && ua.length > 0 ? ua.slice(0, USER_AGENT_MAX) : null;
  };

  app.post("/auth/register", async (request, reply) => {
    if (!ctx.register) throw notFound("Registration is closed");
    const body = jsonObject(request.body);
    const problem = usernameProblem(body.username) ?? passwordProblem(body.password);
    if (problem) throw invalidRequest(problem);
    await limiter.attempt(request.ip);
    const user = await users.register(body.username as string, body.password as string, ctx.now());
    if (!user) throw new ApiError(409, "username_taken", "That username is taken");
    metrics.registrations++;
    return reply.code(201).send({ user_id: user.id, username: user.username });
  });

  app.post("/auth/login", async (request, reply) => {
    const body = jsonObject(request.body);
    const { username, password } = body;
    if (typeof username !== "string" || typeof password !== "string") {
      throw invalidRequest("username and password are required strings");
    }
    const cookie = cookieFlag(body);
    try {
      await limiter.attempt(request.ip);
      // Counted before the (slow) password check: concurrent guesses cannot all slip under the limit.
      await limiter.reserve(username);
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) metrics.count(metrics.logins, "rate_limited");
      throw error;
    }
    // The moment the credentials are checked, taken BEFORE reading the password hash: a password
    // change, logout-all, disable or delete recorded after it refuses this login's session.
    const authenticatedAt = ctx.now();
    const result = await users.authenticate(username, password);
    if (result.status === "invalid") {
      metrics.count(metrics.logins, "invalid_credentials");
      throw credentialsWrong();
    }
    if (result.status === "disabled") {
      metrics.count(metrics.logins, "account_disabled");
      throw new ApiError(403, "account_disabled", "The account is disabled");
    }
    await limiter.succeeded(username);
    let tokens: TokenSet;
    try {
      tokens = await auth.login(result.user.id, {
        userAgent: userAgent(request),
        ip: request.ip,
        clientId: DEFAULT_CLIENT,
        authenticatedAt,
      });
    } catch (error) {
      // The password was changed (or the user deleted, disabled, logged out everywhere) while it was
      // being checked: the same answer as a wrong password.
      if (error instanceof LoginStaleError) {
        metrics.count(metrics.logins, "invalid_credentials");
        throw credentialsWrong();
      }
      throw error;
    }
    metrics.count(metrics.logins, "success");
    return sendTokens(reply, tokens, cookie);
  });

  app.post("/auth/refresh", async (request, reply) => {
    const body = jsonObject(request.body);
    let token = optionalString(body, "refresh_token");
    let fromCookie = false;
    if (token === undefined) {
      token = readRefreshCookie(request);
      if (token === undefined) throw invalidRequest("refresh_token is required");
      checkCsrf(request, ctx.cookie);
      fromCookie = true;
    }
    const cookie = cookieFlag(body) || fromCookie;
    let tokens: TokenSet;
    try {
      tokens = await auth.refresh(token, { clientId: DEFAULT_CLIENT });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (fromCookie && (code === "ERR_REFRESH_INVALID" || code === "ERR_REFRESH_REUSED")) {
        clearRefreshCookie(reply, ctx.cookie);
      }
      throw error;
    }
    return sendTokens(reply, tokens, cookie);
  });

  // Logout: a Bearer token logs out its session; without one, a refresh token in the body, or the
  // refresh cookie (with the CSRF defence), names the session.
  app.post(
    "/auth/logout",
    {
      preHandler: async function logoutAuth(request, reply) {
        // A refresh_token that is not a non-empty string is a 400 before anything else happens.
        const hasBody = optionalString(jsonObject(request.body), "refresh_token") !== undefined;
        if (
          request.headers.authorization === undefined &&
          (hasBody || readRefreshCookie(request) !== undefined)
        )
          return;
        return ctx.bearer.call(this, request, reply);
      },
    },
    async (request, reply) => {
      if (request.auth) {
        await auth.logout(request.auth.sid, { actor: request.auth.sub, reason: "logout" });
      } else {
        let token = optionalString(jsonObject(request.body), "refresh_token");
        if (token === undefined) {
          checkCsrf(request, ctx.cookie);
          token = readRefreshCookie(request) as string;
        }
        const info = await auth.inspectRefreshToken(token);
        if (info && info.session.clientId === DEFAULT_CLIENT) {
          await auth.logout(info.session.sessionId, { actor: info.session.userId, reason: "logout" });
        }
      }
      clearRefreshCookie(reply, ctx.cookie);
      return reply.code(204).send();
    },
  );

  app.post("/auth/logout-all", { preHandler: ctx.bearer }, async (request, reply) => {
    const claims = claimsOf(request);
    await auth.logoutAll(claims.sub, { actor: claims.sub, reason: "logout_all" });
    clearRefreshCookie(reply, ctx.cookie);
    return reply.code(204).send();
  });

  app.get("/auth/sessions", { preHandler: ctx.bearer }, async (request) => {
    const claims = claimsOf(request);
    const sessions = await auth.listSessions(claims.sub);
    return {
      sessions: sessions.map((s) => ({
        session_id: s.sessionId,
        created_at: s.createdAt.toISOString(),
        last_used_at: s.lastUsedAt.toISOString(),
        expires_at: s.expiresAt.toISOString(),
        user_agent: s.userAgent,
        ip: s.ip,
        current: s.sessionId === claims.sid,
      })),
    };
  });

  app.delete<{ Params: { id: string } }>(
    "/auth/sessions/:id",
    { preHandler: ctx.bearer },
    async (request, reply) => {
      const claims = claimsOf(request);
      const id = request.params.id;
      // Checked here, so that no hostile id (a NUL byte, a control character) reaches the store.
      const session = SESSION_ID_PATTERN.test(id) ? await auth.getSession(id) : null;
      if (!session || session.userId !== claims.sub) throw notFound("No such session");
      await auth.logout(id, { actor: claims.sub, reason: "logout" });
      if (id === claims.sid) clearRefreshCookie(reply, ctx.cookie);
      return reply.code(204).send();
    },
  );

  app.post("/auth/password", { preHandler: ctx.bearer }, async (request, reply) => {
    const claims = claimsOf(request);
    const body = jsonObject(request.body);
    if (typeof body.current_password !== "string") throw invalidRequest("current_password must be a string");
    const problem = passwordProblem(body.new_password, "new_password");
    if (problem) throw invalidRequest(problem);
    const user = await users.byId(claims.sub);
    if (!user) throw new ApiError(403, "invalid_credentials", "The account no longer exists");
    await limiter.reserve(user.username);
    if (!(await users.checkPassword(user, body.current_password))) {
      throw new ApiError(403, "invalid_credentials", "The current password is incorrect");
    }
    // New hash first, then the user's cutoff: a login that read the old hash recorded its
    // authentication time before the cutoff, so it gets no session, whatever the interleaving.
    await users.setPassword(user.id, body.new_password as string);
    await auth.passwordChanged(user.id, claims.sid, { actor: user.id, reason: "password_change" });
    await limiter.succeeded(user.username);
    return reply.code(204).send();
  });

  app.get("/auth/me", { preHandler: ctx.bearer }, async (request) => {
    const claims = claimsOf(request);
    const user = await users.byId(claims.sub);
    if (!user) {
      throw new ApiError(401, "invalid_token", "The user no longer exists", {
        "www-authenticate": `Bearer error="invalid_token", error_description="The user no longer exists"`,
      });
    }
    return { user_id: user.id, username: user.username, session_id: claims.sid };
  });
};
