import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { AccessTokenClaims } from "../../core/access-token.js";
import { AuthError } from "../../core/errors.js";
import { isRefreshTokenShape } from "../../core/ids.js";
import { ApiError, invalidRequest } from "../api-error.js";
import type { ClientIdentity } from "../clients.js";
import type { ServerContext } from "../context.js";
import { acceptForm, formObject } from "../parsers.js";
import { tokenResponse } from "./auth.js";

/** Verification outcomes that mean "this is not a live access token" (as opposed to an outage). */
const INACTIVE_CODES = new Set([
  "ERR_TOKEN_INVALID",
  "ERR_TOKEN_EXPIRED",
  "ERR_TOKEN_REVOKED",
  "ERR_SESSION_REVOKED",
]);

/** The RFC 6749 / 7009 / 7662 endpoints under `/oauth` (form bodies). */
export const oauthRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  acceptForm(app);
  const { auth } = ctx;

  const client = (request: FastifyRequest, form: Record<string, string>): Promise<ClientIdentity> =>
    ctx.clients.authenticate(
      request.raw.headersDistinct?.authorization ?? request.headers.authorization,
      form,
      request.ip,
    );

  /** The claims of a live access token, `null` when it is not one. Outages propagate (503). */
  const liveAccessToken = async (token: string): Promise<AccessTokenClaims | null> => {
    if (!token.includes(".")) return null;
    try {
      return await auth.verify(token);
    } catch (error) {
      if (error instanceof AuthError && INACTIVE_CODES.has(error.code)) return null;
      throw error;
    }
  };

  // RFC 6749 §6: the refresh grant. A refresh token is redeemed only by the client it was issued to.
  app.post("/oauth/token", async (request, reply) => {
    const form = formObject(request.body);
    const caller = await client(request, form);
    const grant = form.grant_type;
    if (grant === undefined) throw invalidRequest("grant_type is required");
    if (grant !== "refresh_token") {
      throw new ApiError(400, "unsupported_grant_type", "Only grant_type=refresh_token is supported");
    }
    const token = form.refresh_token;
    if (token === undefined) throw invalidRequest("refresh_token is required");
    const tokens = await auth.refresh(token, { clientId: caller.clientId });
    return reply.code(200).send(tokenResponse(tokens, true));
  });

  const notYours = () =>
    new ApiError(400, "unauthorized_client", "The token was not issued to this client; nothing was revoked");

  // RFC 7009: 200 and an empty body for an unknown or invalid token; a token issued to another client
  // is refused (§2.1) and stays as it was.
  app.post("/oauth/revoke", async (request, reply) => {
    const form = formObject(request.body);
    const caller = await client(request, form);
    const token = form.token;
    if (token === undefined) throw invalidRequest("token is required");
    const hint = form.token_type_hint;
    const tryRefresh = async () => {
      if (!isRefreshTokenShape(token)) return false;
      const info = await auth.inspectRefreshToken(token);
      if (!info) return false;
      if (info.session.clientId !== caller.clientId) throw notYours();
      await auth.logout(info.session.sessionId, { actor: caller.clientId, reason: "token_revoked" });
      return true;
    };
    const tryAccess = async () => {
      const claims = await liveAccessToken(token);
      if (!claims) return false;
      if (claims.client_id !== caller.clientId) throw notYours();
      await auth.revokeAccessToken(token, { actor: caller.clientId, reason: "token_revoked" });
      return true;
    };
    if (hint === "access_token") {
      if (!(await tryAccess())) await tryRefresh();
    } else if (!(await tryRefresh())) {
      await tryAccess();
    }
    return reply.code(200).send();
  });

  // RFC 7662: confidential clients only; an inactive token is exactly {"active":false}.
  app.post("/oauth/introspect", async (request, reply) => {
    const form = formObject(request.body);
    const caller = await client(request, form);
    if (!caller.confidential) throw ctx.clients.invalidClient("Introspection requires a confidential client");
    const token = form.token;
    if (token === undefined) throw invalidRequest("token is required");
    if (isRefreshTokenShape(token)) {
      const info = await auth.inspectRefreshToken(token);
      if (!info?.active) return reply.send({ active: false });
      const user = await ctx.users.byId(info.session.userId);
      // No token_type: RFC 7662 takes it from RFC 6749 §7.1 (how a token is presented), which a
      // refresh token never is.
      return reply.send({
        active: true,
        client_id: info.session.clientId,
        ...(user ? { username: user.username } : {}),
        sub: info.session.userId,
        sid: info.session.sessionId,
        exp: Math.floor(info.expiresAt / 1000),
      });
    }
    const claims = await liveAccessToken(token);
    if (!claims) return reply.send({ active: false });
    const user = await ctx.users.byId(claims.sub);
    return reply.send({
      active: true,
      token_type: "Bearer",
      ...(typeof claims.scope === "string" ? { scope: claims.scope } : {}),
      client_id: claims.client_id,
      ...(user ? { username: user.username } : {}),
      sub: claims.sub,
      sid: claims.sid,
      jti: claims.jti,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
    });
  });
};
