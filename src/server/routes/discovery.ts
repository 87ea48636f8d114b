import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";

/** Client authentication methods of the token and revocation endpoints. */
const TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"];
/** Introspection is for confidential clients only. */
const INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post"];

/**
 * RFC 8414 authorization server metadata. `issuer` is exactly the `iss` of the tokens (a trailing
 * slash included: a resource server compares the two strings); endpoint URLs are built on it without
 * the slash.
 */
export function serverMetadata(ctx: ServerContext): Record<string, unknown> {
  const base = ctx.issuer;
  return {
    issuer: ctx.auth.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    grant_types_supported: ["refresh_token"],
    // Required by RFC 8414 §2 and must not be empty. There is no authorization endpoint (and so no
    // `authorization_endpoint`): "none" (OAuth 2.0 Multiple Response Types) is the one value that
    // promises no credentials from it.
    response_types_supported: ["none"],
    token_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: INTROSPECTION_AUTH_METHODS,
    revocation_feed_endpoint: `${base}/oauth/revocation-feed`,
  };
}

/**
 * `/.well-known/*`: the JWKS and the RFC 8414 metadata. Nothing is served at
 * `/.well-known/openid-configuration`: the server is not an OpenID Provider (no ID tokens, no
 * authorization endpoint), and an invalid OpenID document there would mislead clients that probe it.
 */
export const discoveryRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    // Short cache: a withdrawn key must leave resource servers' caches soon (a rotated one is
    // published 10 minutes before it signs).
    reply.header("cache-control", "public, max-age=5");
    return ctx.auth.jwks();
  });
  const metadata = async (_request: unknown, reply: { header(name: string, value: string): unknown }) => {
    reply.header("cache-control", "public, max-age=300");
    return serverMetadata(ctx);
  };
  app.get("/.well-known/oauth-authorization-server", metadata);
  // RFC 8414 section 3.1: an issuer with a path has its metadata at the well-known prefix + that path.
  const path = new URL(ctx.auth.issuer).pathname.replace(/\/+$/, "");
  if (path !== "") app.get(`/.well-known/oauth-authorization-server${path}`, metadata);
};
