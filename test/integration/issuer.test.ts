/**
 * The issuer is used exactly as given: a trailing slash stays in tokens, in verification and in the
 * RFC 8414 metadata, so a resource server configured from the metadata accepts the tokens; an issuer
 * with a path has its metadata at the RFC 8414 section 3.1 location.
 */
import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { memoryStore } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { freePort } from "../helpers/free-port.mjs";

const insecure = { [oauth.allowInsecureRequests]: true };

async function serve(issuerOf: (origin: string) => string) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const issuer = issuerOf(origin);
  const server = await createServer({
    store: memoryStore(),
    host: "127.0.0.1",
    port,
    issuer,
    logger: "silent",
    scrypt: { N: 2 ** 12, r: 8, p: 1 },
  });
  await server.listen();
  return { server, origin, issuer };
}

async function accessToken(origin: string): Promise<string> {
  const body = JSON.stringify({ username: "ada", password: "a long enough password" });
  const headers = { "content-type": "application/json" };
  expect((await fetch(`${origin}/auth/register`, { method: "POST", headers, body })).status).toBeLessThan(
    300,
  );
  const res = await fetch(`${origin}/auth/login`, { method: "POST", headers, body });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe("issuer with a trailing slash", () => {
  it("metadata issuer === iss, and an RFC 9068 validator configured from the metadata accepts the token", async () => {
    const { server, origin, issuer } = await serve((o) => `${o}/`);
    try {
      const as = await oauth.processDiscoveryResponse(
        new URL(issuer),
        await oauth.discoveryRequest(new URL(issuer), { algorithm: "oauth2", ...insecure }),
      );
      expect(as.issuer).toBe(issuer);
      expect(as.jwks_uri).toBe(`${origin}/.well-known/jwks.json`);
      const token = await accessToken(origin);
      const claims = await oauth.validateJwtAccessToken(
        as,
        new Request(`${origin}/resource`, { headers: { authorization: `Bearer ${token}` } }),
        "api",
        insecure,
      );
      expect(claims.iss).toBe(issuer);
      expect(
        (await fetch(`${origin}/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("issuer with a path", () => {
  it("serves the metadata at /.well-known/oauth-authorization-server/PATH with that exact issuer", async () => {
    const { server, origin, issuer } = await serve((o) => `${o}/tenant/a`);
    try {
      const res = await fetch(`${origin}/.well-known/oauth-authorization-server/tenant/a`);
      expect(res.status).toBe(200);
      const metadata = (await res.json()) as { issuer: string; token_endpoint: string };
      expect(metadata.issuer).toBe(issuer);
      expect(metadata.token_endpoint).toBe(`${issuer}/oauth/token`);
      // oauth4webapi computes the same location from the issuer and checks the issuer matches.
      const as = await oauth.processDiscoveryResponse(
        new URL(issuer),
        await oauth.discoveryRequest(new URL(issuer), { algorithm: "oauth2", ...insecure }),
      );
      expect(as.issuer).toBe(issuer);
    } finally {
      await server.close();
    }
  });
});
