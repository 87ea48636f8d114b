/**
 * The real server (`revokit serve`, a child process on SQLite) through a whole life over HTTP,
 * then independent clients (oauth4webapi) against it: discovery, the refresh grant, revocation,
 * introspection, and RFC 9068 validation of the access tokens it mints. Finally: the logs hold no
 * secret, and SIGTERM shuts it down cleanly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import type { TokenResponse } from "../helpers/server-client.js";

const PASSWORD = "a long enough password";
const NEW_PASSWORD = "another long password";

let dir: string;
let server: ServeProcess;
let url: string;
const secrets: string[] = [PASSWORD, NEW_PASSWORD];

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
const auth = (t: { access_token: string }) => ({ authorization: `Bearer ${t.access_token}` });
const me = (t: { access_token: string }) => fetch(`${url}/auth/me`, { headers: auth(t) });

async function login(device: string, password = PASSWORD): Promise<TokenResponse> {
  const res = await post("/auth/login", { username: "alice", password }, { "user-agent": device });
  expect(res.status).toBe(200);
  const t = (await res.json()) as TokenResponse;
  secrets.push(t.access_token, t.refresh_token);
  return t;
}

async function refresh(t: TokenResponse): Promise<TokenResponse> {
  const res = await post("/auth/refresh", { refresh_token: t.refresh_token });
  expect(res.status).toBe(200);
  const next = (await res.json()) as TokenResponse;
  secrets.push(next.access_token, next.refresh_token);
  return next;
}

async function expectRefused(res: Response, status: number, error: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: string }).error).toBe(error);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "revokit-life-"));
  server = await startServe(["--store", `sqlite:${join(dir, "auth.db")}`]);
  url = server.url;
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a whole life over HTTP", () => {
  it("register, two devices, sessions, refresh, reuse, logout, logout-all, password change", async () => {
    // Register.
    const reg = await post("/auth/register", { username: "alice", password: PASSWORD });
    expect(reg.status).toBe(201);
    const { user_id: userId } = (await reg.json()) as { user_id: string };
    await expectRefused(
      await post("/auth/register", { username: "ALICE", password: PASSWORD }),
      409,
      "username_taken",
    );

    // Log in on two devices.
    const laptop = await login("Laptop/1.0");
    const phone = await login("Phone/2.0");
    expect((await (await me(laptop)).json()) as unknown).toEqual({
      user_id: userId,
      username: "alice",
      session_id: laptop.session_id,
    });

    // List sessions: both, the caller's marked current.
    const listed = (await (await fetch(`${url}/auth/sessions`, { headers: auth(phone) })).json()) as {
      sessions: { session_id: string; user_agent: string; current: boolean; ip: string }[];
    };
    expect(listed.sessions.map((s) => [s.session_id, s.user_agent, s.current]).sort()).toEqual(
      [
        [laptop.session_id, "Laptop/1.0", false],
        [phone.session_id, "Phone/2.0", true],
      ].sort(),
    );

    // Refresh the laptop twice; the first refresh token is then two generations old.
    const laptop1 = await refresh(laptop);
    const laptop2 = await refresh(laptop1);
    expect((await me(laptop2)).status).toBe(200);

    // Replay the old refresh token: theft. The whole laptop session is revoked.
    await expectRefused(
      await post("/auth/refresh", { refresh_token: laptop.refresh_token }),
      400,
      "invalid_grant",
    );
    await expectRefused(await me(laptop2), 401, "invalid_token");
    await expectRefused(
      await post("/auth/refresh", { refresh_token: laptop2.refresh_token }),
      400,
      "invalid_grant",
    );
    expect((await me(phone)).status).toBe(200);

    // Log out one device: its copied access token is refused at once, the other device works.
    const laptop3 = await login("Laptop/1.0");
    const copied = { access_token: phone.access_token };
    expect((await fetch(`${url}/auth/logout`, { method: "POST", headers: auth(phone) })).status).toBe(204);
    const refused = await me(copied);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(
      /^Bearer error="invalid_token", error_description="/,
    );
    await expectRefused(
      await post("/auth/refresh", { refresh_token: phone.refresh_token }),
      400,
      "invalid_grant",
    );
    expect((await me(laptop3)).status).toBe(200);

    // Logout-all: every device out; logging in right after works.
    const tablet = await login("Tablet/3.0");
    expect((await fetch(`${url}/auth/logout-all`, { method: "POST", headers: auth(laptop3) })).status).toBe(
      204,
    );
    await expectRefused(await me(laptop3), 401, "invalid_token");
    await expectRefused(await me(tablet), 401, "invalid_token");
    const desk = await login("Desk/4.0");
    const other = await login("Other/5.0");
    expect((await me(desk)).status).toBe(200);

    // Password change: a wrong current password is refused; then every other session ends.
    await expectRefused(
      await post(
        "/auth/password",
        { current_password: "not the password", new_password: NEW_PASSWORD },
        auth(desk),
      ),
      403,
      "invalid_credentials",
    );
    const changed = await post(
      "/auth/password",
      { current_password: PASSWORD, new_password: NEW_PASSWORD },
      auth(desk),
    );
    expect(changed.status).toBe(204);
    expect((await me(desk)).status).toBe(200);
    await expectRefused(await me(other), 401, "invalid_token");
    await expectRefused(
      await post("/auth/login", { username: "alice", password: PASSWORD }),
      401,
      "invalid_credentials",
    );
    const fresh = await login("Fresh/6.0", NEW_PASSWORD);

    // Delete a session by id; only the caller's own.
    expect(
      (await fetch(`${url}/auth/sessions/${fresh.session_id}`, { method: "DELETE", headers: auth(desk) }))
        .status,
    ).toBe(204);
    await expectRefused(await me(fresh), 401, "invalid_token");
    await expectRefused(
      await fetch(`${url}/auth/sessions/${fresh.session_id}`, { method: "DELETE", headers: auth(desk) }),
      404,
      "not_found",
    );

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^revokit_refresh_reuse_total 1$/m);
    expect(metrics).toMatch(/^revokit_revocations_total\{grain="session",reason="refresh_token_reuse"\} 1$/m);
    expect(metrics).toMatch(/^revokit_revocations_total\{grain="user",reason="password_change"\} 1$/m);
  });
});

describe("interoperability with oauth4webapi", () => {
  const insecure = { [oauth.allowInsecureRequests]: true };
  let as: oauth.AuthorizationServer;
  let clientSecret: string;

  beforeAll(async () => {
    const issuer = new URL(url);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
    );
    // A confidential client, made with the CLI on the same store while the server runs.
    const made = await runCli([
      "clients",
      "add",
      "resource-server",
      "--store",
      `sqlite:${join(dir, "auth.db")}`,
    ]);
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    const printed = JSON.parse(made.stdout) as { client_id: string; client_secret: string };
    expect(printed.client_id).toBe("resource-server");
    clientSecret = printed.client_secret;
    secrets.push(clientSecret);
  });

  it("discovers the server (RFC 8414)", () => {
    expect(as.issuer).toBe(url);
    expect(as.token_endpoint).toBe(`${url}/oauth/token`);
    expect(as.revocation_endpoint).toBe(`${url}/oauth/revoke`);
    expect(as.introspection_endpoint).toBe(`${url}/oauth/introspect`);
    expect(as.jwks_uri).toBe(`${url}/.well-known/jwks.json`);
  });

  it("refresh grant, introspection (basic and post), revocation, and RFC 9068 validation", async () => {
    const publicClient: oauth.Client = { client_id: "default" };
    const rs: oauth.Client = { client_id: "resource-server" };
    const t = await login("oauth4webapi", NEW_PASSWORD);

    // The refresh grant, as a public client.
    const grant = await oauth.processRefreshTokenResponse(
      as,
      publicClient,
      await oauth.refreshTokenGrantRequest(as, publicClient, oauth.None(), t.refresh_token, insecure),
    );
    expect(grant.token_type).toBe("bearer");
    expect(grant.session_id).toBe(t.session_id);
    const accessToken = grant.access_token;
    const refreshToken = grant.refresh_token as string;
    secrets.push(accessToken, refreshToken);

    // RFC 9068: an independent validator accepts the minted access token.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request(`${url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } }),
      "api",
      insecure,
    );
    expect(claims).toMatchObject({ iss: url, aud: "api", client_id: "default", sid: t.session_id });

    // Introspection by the confidential client, both authentication methods.
    const viaBasic = await oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(clientSecret), accessToken, insecure),
    );
    expect(viaBasic).toMatchObject({
      active: true,
      token_type: "Bearer",
      client_id: "default",
      username: "alice",
    });
    const viaPost = await oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretPost(clientSecret), refreshToken, insecure),
    );
    expect(viaPost).toMatchObject({ active: true, sid: t.session_id });
    expect(viaPost.token_type).toBeUndefined();

    // Revocation by a client that did not receive the token: refused (RFC 7009 §2.1), changes nothing.
    await expect(
      oauth.processRevocationResponse(
        await oauth.revocationRequest(as, rs, oauth.ClientSecretBasic(clientSecret), refreshToken, insecure),
      ),
    ).rejects.toMatchObject({ error: "unauthorized_client", status: 400 });
    const still = await oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(clientSecret), accessToken, insecure),
    );
    expect(still.active).toBe(true);

    // Revocation by the owner: the refresh token's whole session goes.
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, publicClient, oauth.None(), refreshToken, insecure),
    );
    for (const token of [accessToken, refreshToken]) {
      const gone = await oauth.processIntrospectionResponse(
        as,
        rs,
        await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(clientSecret), token, insecure),
      );
      expect(gone).toEqual({ active: false });
    }
    await expectRefused(await me({ access_token: accessToken }), 401, "invalid_token");

    // A wrong secret: 401 invalid_client with a Basic challenge, which oauth4webapi surfaces.
    const bad = await oauth.introspectionRequest(
      as,
      rs,
      oauth.ClientSecretBasic("wrong"),
      accessToken,
      insecure,
    );
    expect(((await bad.clone().json()) as { error: string }).error).toBe("invalid_client");
    await expect(oauth.processIntrospectionResponse(as, rs, bad)).rejects.toMatchObject({
      status: 401,
      cause: [{ scheme: "basic", parameters: { realm: "revokit" } }],
    });
  });
});

describe("operations", () => {
  it("health, metrics and JWKS answer; the logs hold no token, password or secret", async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { d?: string }[] };
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const output = server.output();
    expect(server.logs().some((l) => l.msg === "request completed")).toBe(true);
    for (const secret of secrets) expect(output).not.toContain(secret);
  });

  it("SIGTERM shuts down gracefully with exit code 0", async () => {
    const code = await server.stop();
    expect(code).toBe(0);
    const messages = server.logs().map((l) => l.msg);
    expect(messages).toContain("shutting down");
    expect(messages).toContain("stopped");
  });
});
