/**
 * The security suite over the running server: a real `revokit serve` process (SQLite, default
 * settings) attacked over HTTP. Every RFC 8725 attack class, with concrete hostile tokens, on every
 * protected endpoint: 401 `invalid_token`. Token-type confusion, oversized headers (431) and bodies
 * (413), malformed JSON, duplicate form parameters and wrong content types on every endpoint,
 * introspection and revocation by the wrong client. Every answer is the documented 4xx with a stable
 * code, never a 5xx; and at the end nothing changed (same users, sessions, clients and revocations).
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/index.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";
import { runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { basicAuth, type TokenResponse } from "../helpers/server-client.js";

const PASSWORD = "correct horse battery staple";
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | null;
  text: string;
}

let server: ServeProcess;
let dir: string;
let store: Store;
let alice: TokenResponse;
let aliceId: string;
let kid: string;
let ourKey: KeyObject;
const clients: Record<string, string> = {};

async function call(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const res = await fetch(server.url + path, { method, headers: options.headers, body: options.body });
  const text = await res.text();
  let body: Record<string, unknown> | null = null;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    body = null;
  }
  // Never a 5xx: the store is healthy throughout.
  expect(res.status, `${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`).toBeLessThan(500);
  return { status: res.status, headers: res.headers, body, text };
}

const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(method, path, {
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const form = (path: string, body: string, headers: Record<string, string> = {}) =>
  call("POST", path, { headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });

/** The documented error shape: exactly `{error, error_description}`, the code, and no token echoed. */
function expectError(reply: Reply, status: number, code: string, secret?: string): void {
  expect({ status: reply.status, error: reply.body?.error }).toEqual({ status, error: code });
  expect(Object.keys(reply.body ?? {}).sort()).toEqual(["error", "error_description"]);
  if (secret && secret.length > 20) expect(reply.text).not.toContain(secret.slice(0, 24));
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: server.url,
    aud: "api",
    sub: aliceId,
    client_id: "default",
    sid: alice.session_id,
    jti: randomBytes(16).toString("base64url"),
    iat: now,
    exp: now + 600,
    ...extra,
  };
}

/** Signs with the server's own key (an insider, or a sibling system sharing the key). */
function signOurs(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), ourKey).toString("base64url")}`;
}

/** What a snapshot of the server's state looks like (to show hostile requests changed nothing). */
async function state(): Promise<string> {
  const now = Date.now();
  const users = (await store.listUsers()).map((u) => `${u.username}:${u.passwordHash}:${u.disabledAt}`);
  const sessions = (await store.listUserSessions(aliceId, now)).map(
    (s) => `${s.id}:${s.generation}:${s.revokedAt}`,
  );
  const snapshot = await store.snapshot(now);
  const list = (await store.listClients()).map((c) => c.clientId);
  return JSON.stringify({
    users,
    sessions,
    revocations: snapshot.entries.length,
    cutoff: snapshot.globalCutoff,
    list,
  });
}

let before: string;
/** A token of bob's that was revoked (logout) before the attacks. */
let revoked: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "revokit-hostile-"));
  const url = `sqlite:${join(dir, "auth.db")}`;
  // Only init (or serve) creates a store; the admin commands then work before the server runs.
  expect((await runCli(["init", "--store", url])).code).toBe(0);
  for (const id of ["rs1", "rs2"]) {
    const out = await runCli(["clients", "add", id, "--store", url]);
    expect(out.code, out.stderr).toBe(0);
    clients[id] = (JSON.parse(out.stdout) as { client_secret: string }).client_secret;
  }
  // EdDSA: the attacks below forge tokens with Ed25519 signatures (the default is RS256).
  server = await startServe(["--store", url, "--ip-max-attempts", "0", "--algorithm", "EdDSA"]);
  expect((await json("POST", "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
  expect((await json("POST", "/auth/register", { username: "bob", password: PASSWORD })).status).toBe(201);
  const login = await json("POST", "/auth/login", { username: "alice", password: PASSWORD });
  alice = login.body as unknown as TokenResponse;
  aliceId = String(
    (await call("GET", "/auth/me", { headers: { authorization: `Bearer ${alice.access_token}` } })).body
      ?.user_id,
  );
  // Another handle on the same file, as another process would have.
  store = sqliteStore({ path: join(dir, "auth.db") });
  await store.open();
  const key = (await store.listKeys()).find((k) => k.alg === "EdDSA");
  if (!key) throw new Error("no key");
  kid = key.kid;
  ourKey = createPrivateKey({ key: key.privateJwk as JsonWebKey, format: "jwk" });
  const bob = (await json("POST", "/auth/login", { username: "bob", password: PASSWORD }))
    .body as unknown as TokenResponse;
  expect(
    (await json("POST", "/auth/logout", {}, { authorization: `Bearer ${bob.access_token}` })).status,
  ).toBe(204);
  revoked = bob.access_token;
  before = await state();
}, 60_000);

afterAll(async () => {
  await store?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every protected endpoint, with a body that would be valid. */
function protectedCalls(token: string): [string, () => Promise<Reply>][] {
  const h = { authorization: `Bearer ${token}` };
  return [
    ["GET /auth/me", () => call("GET", "/auth/me", { headers: h })],
    ["GET /auth/sessions", () => call("GET", "/auth/sessions", { headers: h })],
    ["POST /auth/logout", () => json("POST", "/auth/logout", {}, h)],
    ["POST /auth/logout-all", () => json("POST", "/auth/logout-all", {}, h)],
    [
      "DELETE /auth/sessions/{id}",
      () => call("DELETE", `/auth/sessions/${alice.session_id}`, { headers: h }),
    ],
    [
      "POST /auth/password",
      () =>
        json("POST", "/auth/password", { current_password: PASSWORD, new_password: "pwned-password-1" }, h),
    ],
  ];
}

async function expectInvalidTokenEverywhere(token: string): Promise<void> {
  for (const [name, send] of protectedCalls(token)) {
    const reply = await send();
    expect(reply.status, name).toBe(401);
    expectError(reply, 401, "invalid_token", token);
    expect(reply.headers.get("www-authenticate"), name).toMatch(/^Bearer .*error="invalid_token"/);
  }
}

describe("RFC 8725 attack classes against every protected endpoint", () => {
  it("a token forged exactly as ours is accepted (the forging is right; the attacks below differ by one thing)", async () => {
    const reply = await call("GET", "/auth/me", {
      headers: { authorization: `Bearer ${signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims())}` },
    });
    expect(reply.status).toBe(200);
  });

  const attacks: [string, () => string][] = [
    ["alg none", () => `${b64({ alg: "none", typ: "at+jwt", kid })}.${b64(claims())}.`],
    ["alg None with a signature", () => `${b64({ alg: "None", typ: "at+jwt", kid })}.${b64(claims())}.c2ln`],
    ["alg NONE", () => `${b64({ alg: "NONE", typ: "at+jwt" })}.${b64(claims())}.`],
    [
      "HS256 signed with the published public key (PEM)",
      () => {
        const pem = createPublicKey(ourKey).export({ format: "pem", type: "spki" }) as string;
        const input = `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${b64(claims())}`;
        return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
      },
    ],
    [
      "HS256 signed with the published JWK's raw x",
      () => {
        const x = Buffer.from(
          String((createPublicKey(ourKey).export({ format: "jwk" }) as { x: string }).x),
          "base64url",
        );
        const input = `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${b64(claims())}`;
        return `${input}.${createHmac("sha256", x).update(input).digest("base64url")}`;
      },
    ],
    ["RS256 with our kid", () => `${b64({ alg: "RS256", typ: "at+jwt", kid })}.${b64(claims())}.c2ln`],
    ["ES256 with our kid", () => `${b64({ alg: "ES256", typ: "at+jwt", kid })}.${b64(claims())}.c2ln`],
    ["PS256", () => `${b64({ alg: "PS256", typ: "at+jwt", kid })}.${b64(claims())}.c2ln`],
    ...(
      [
        ["an embedded attacker jwk", (pub: KeyObject) => ({ jwk: pub.export({ format: "jwk" }) })],
        ["a jku to the attacker", () => ({ jku: "https://attacker.example/jwks.json" })],
        ["an x5u to the attacker", () => ({ x5u: "https://attacker.example/cert.pem" })],
        ["an x5c chain", () => ({ x5c: ["MIIBszCCAVmgAwIBAgIU"] })],
      ] as [string, (pub: KeyObject) => Record<string, unknown>][]
    ).map(([name, extra]): [string, () => string] => [
      `${name}, signed by the attacker`,
      () => {
        const attacker = generateKeyPairSync("ed25519");
        const input = `${b64({ alg: "EdDSA", typ: "at+jwt", kid, ...extra(attacker.publicKey) })}.${b64(claims())}`;
        return `${input}.${sign(null, Buffer.from(input), attacker.privateKey).toString("base64url")}`;
      },
    ]),
    [
      "an embedded jwk, even signed with our own key",
      () =>
        signOurs(
          { alg: "EdDSA", typ: "at+jwt", kid, jwk: createPublicKey(ourKey).export({ format: "jwk" }) },
          claims(),
        ),
    ],
    [
      "crit, signed with our key",
      () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid, crit: ["exp"], exp: 1 }, claims()),
    ],
    ...[
      "../../../../etc/passwd",
      "' OR '1'='1",
      "__proto__",
      "constructor",
      "k".repeat(400),
      "",
      "\u0000",
    ].map((hostile): [string, () => string] => [
      `hostile kid ${JSON.stringify(hostile.slice(0, 24))}`,
      () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid: hostile }, claims()),
    ]),
    ["a numeric kid", () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid: 1 }, claims())],
    ["typ JWT (another kind of token)", () => signOurs({ alg: "EdDSA", typ: "JWT", kid }, claims())],
    ["no typ", () => signOurs({ alg: "EdDSA", kid }, claims())],
    ["typ of an ID token", () => signOurs({ alg: "EdDSA", typ: "id_token+jwt", kid }, claims())],
    ["another audience", () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ aud: "other-api" }))],
    [
      "another issuer",
      () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ iss: "https://evil.example" })),
    ],
    [
      "expired",
      () =>
        signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ exp: Math.floor(Date.now() / 1000) - 600 })),
    ],
    [
      "not yet valid",
      () =>
        signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ nbf: Math.floor(Date.now() / 1000) + 600 })),
    ],
    [
      "issued in the future",
      () =>
        signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ iat: Math.floor(Date.now() / 1000) + 600 })),
    ],
    ["no sid", () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ sid: undefined }))],
    ["exp as a string", () => signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims({ exp: "9999999999" }))],
    [
      "a tampered payload (sub: admin) with a genuine signature",
      () => {
        const [h, , s] = alice.access_token.split(".");
        return `${h}.${b64(claims({ sub: "admin" }))}.${s}`;
      },
    ],
    [
      "a genuine header and payload with another token's signature",
      () => {
        const other = signOurs({ alg: "EdDSA", typ: "at+jwt", kid }, claims());
        return `${alice.access_token.split(".").slice(0, 2).join(".")}.${other.split(".")[2]}`;
      },
    ],
    ["a truncated signature", () => alice.access_token.slice(0, -4)],
    ["two parts", () => alice.access_token.split(".").slice(0, 2).join(".")],
    ["four parts", () => `${alice.access_token}.e30`],
    ["a padded signature", () => `${alice.access_token}=`],
    ["a padded signature (two)", () => `${alice.access_token}==`],
    [
      "standard base64 alphabet",
      () => {
        // Never a no-op: a token with neither "-" nor "_" gets a "+" in its signature instead.
        const t = alice.access_token;
        const swapped = t.replaceAll("-", "+").replaceAll("_", "/");
        return swapped !== t ? swapped : `${t.slice(0, -2)}+${t.slice(-1)}`;
      },
    ],
    ["a header that is a JSON array", () => `${b64([1, 2])}.${b64(claims())}.c2ln`],
    ["a header that is not JSON", () => `${b64("{alg")}.${b64(claims())}.c2ln`],
    ["an overlong token (over 8 KiB, under the header limit)", () => `${"a".repeat(9000)}.b.c`],
    ["a refresh token used as an access token", () => alice.refresh_token],
  ];

  it.each(attacks)("%s: 401 invalid_token on every protected endpoint", async (_name, make) => {
    await expectInvalidTokenEverywhere(make());
  });

  it("padding inside the token is not a bearer credential at all (RFC 6750 b64token): 400 invalid_request", async () => {
    for (const [name, send] of protectedCalls(alice.access_token.replace(".", "=."))) {
      const reply = await send();
      expectError(reply, 400, "invalid_request", alice.access_token);
      expect(reply.headers.get("www-authenticate"), name).toMatch(/^Bearer error="invalid_request"/);
    }
  });

  it("a revoked access token: 401 invalid_token on every protected endpoint", async () => {
    await expectInvalidTokenEverywhere(revoked);
  });
});

describe("token-type confusion", () => {
  it("an access token is not a refresh token: /auth/refresh and /oauth/token answer 400 invalid_grant", async () => {
    expectError(
      await json("POST", "/auth/refresh", { refresh_token: alice.access_token }),
      400,
      "invalid_grant",
      alice.access_token,
    );
    expectError(
      await form(
        "/oauth/token",
        new URLSearchParams({ grant_type: "refresh_token", refresh_token: alice.access_token }).toString(),
      ),
      400,
      "invalid_grant",
      alice.access_token,
    );
  });

  it("a refresh token is introspected by a resource server only as what it is, never as an access token", async () => {
    const reply = await form(
      "/oauth/introspect",
      `token=${alice.refresh_token}&token_type_hint=access_token`,
      basicAuth("rs1", clients.rs1!),
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ active: true, sid: alice.session_id });
    expect(reply.body?.token_type).toBeUndefined();
    const forged = signOurs({ alg: "EdDSA", typ: "JWT", kid }, claims());
    const inactive = await form("/oauth/introspect", `token=${forged}`, basicAuth("rs1", clients.rs1!));
    expect(inactive.body).toEqual({ active: false });
  });
});

describe("introspection and revocation by the wrong client", () => {
  const introspect = (headers: Record<string, string>, extra = "") =>
    form("/oauth/introspect", `token=${alice.access_token}${extra}`, headers);

  it.each([
    ["no client authentication", {}, ""],
    ["the public client", {}, "&client_id=default"],
    ["a wrong secret (basic)", basicAuth("rs1", "wrong-secret"), ""],
    ["an unknown client", basicAuth("nobody", "whatever"), ""],
    ["a wrong secret (post)", {}, "&client_id=rs1&client_secret=wrong"],
  ] as [string, Record<string, string>, string][])(
    "%s: 401 invalid_client",
    async (_name, headers, extra) => {
      const reply = await introspect(headers, extra);
      expectError(reply, 401, "invalid_client", alice.access_token);
    },
  );

  it("a secret of another confidential client: 401 invalid_client", async () => {
    expectError(await introspect(basicAuth("rs1", clients.rs2!)), 401, "invalid_client");
  });

  it("revocation by a client the token was not issued to: 400 unauthorized_client, and nothing changes", async () => {
    for (const token of [alice.access_token, alice.refresh_token]) {
      const reply = await form("/oauth/revoke", `token=${token}`, basicAuth("rs1", clients.rs1!));
      expectError(reply, 400, "unauthorized_client", token);
    }
    expect(
      (await call("GET", "/auth/me", { headers: { authorization: `Bearer ${alice.access_token}` } })).status,
    ).toBe(200);
    const active = await form(
      "/oauth/introspect",
      `token=${alice.refresh_token}`,
      basicAuth("rs2", clients.rs2!),
    );
    expect(active.body).toMatchObject({ active: true });
  });
});

/**
 * Every endpoint that takes a body, with its content type and a well-formed body that changes nothing
 * even when it reaches the handler (a too-short password, an unknown user, an unknown token).
 */
function bodyEndpoints(): {
  path: string;
  method: string;
  kind: "json" | "form";
  valid: string;
  auth: boolean;
}[] {
  return [
    {
      path: "/auth/register",
      method: "POST",
      kind: "json",
      valid: JSON.stringify({ username: "carol", password: "short" }),
      auth: false,
    },
    {
      path: "/auth/login",
      method: "POST",
      kind: "json",
      valid: JSON.stringify({ username: "mallory", password: "wrong-password" }),
      auth: false,
    },
    {
      path: "/auth/refresh",
      method: "POST",
      kind: "json",
      valid: JSON.stringify({ refresh_token: "jrt_x" }),
      auth: false,
    },
    { path: "/auth/logout", method: "POST", kind: "json", valid: "{}", auth: true },
    { path: "/auth/logout-all", method: "POST", kind: "json", valid: "{}", auth: true },
    {
      path: "/auth/password",
      method: "POST",
      kind: "json",
      valid: JSON.stringify({ current_password: "x", new_password: "y" }),
      auth: true,
    },
    {
      path: "/oauth/token",
      method: "POST",
      kind: "form",
      valid: "grant_type=refresh_token&refresh_token=jrt_x",
      auth: false,
    },
    { path: "/oauth/revoke", method: "POST", kind: "form", valid: "token=x", auth: false },
    { path: "/oauth/introspect", method: "POST", kind: "form", valid: "token=x", auth: false },
  ];
}

describe("hostile bodies and headers on every endpoint", () => {
  // A live token only where the request is refused before any handler runs; elsewhere a revoked one,
  // so that a logout or logout-all that got through could not change anything either.
  const bearerOf = (auth: boolean): Record<string, string> =>
    auth ? { authorization: `Bearer ${alice.access_token}` } : {};
  const deadBearerOf = (auth: boolean): Record<string, string> =>
    auth ? { authorization: `Bearer ${revoked}` } : {};

  it("malformed JSON: 400 invalid_request on every JSON endpoint", async () => {
    for (const e of bodyEndpoints().filter((x) => x.kind === "json")) {
      for (const body of ['{"username":', "{'a':1}", "[1,2", "nul", '{"a":1}}', "\u0000", '{"a":"\\ud800"']) {
        const reply = await call(e.method, e.path, {
          headers: { "content-type": "application/json", ...bearerOf(e.auth) },
          body,
        });
        expectError(reply, 400, "invalid_request");
      }
      // Valid JSON that is not an object: 400, or 401 first where the token is checked before the body.
      for (const body of ["[]", "1", '"text"', "true", "null"]) {
        const reply = await call(e.method, e.path, {
          headers: { "content-type": "application/json", ...deadBearerOf(e.auth) },
          body,
        });
        if (e.auth) expect([400, 401], `${e.path} ${body}`).toContain(reply.status);
        else expectError(reply, 400, "invalid_request");
        expect(Object.keys(reply.body ?? {}).sort()).toEqual(["error", "error_description"]);
      }
    }
  });

  it("duplicate form parameters: 400 invalid_request on every form endpoint", async () => {
    for (const e of bodyEndpoints().filter((x) => x.kind === "form")) {
      const first = e.valid.split("&")[0]!;
      for (const body of [
        `${e.valid}&${first}`,
        `${first}&${e.valid}`,
        `${e.valid}&client_id=rs1&client_id=rs1`,
      ]) {
        expectError(await form(e.path, body), 400, "invalid_request");
      }
    }
  });

  it("wrong content types: 415 on every endpoint that takes a body", async () => {
    for (const e of bodyEndpoints()) {
      const wrong = [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        e.kind === "json" ? "application/x-www-form-urlencoded" : "application/json",
      ];
      for (const type of wrong) {
        const reply = await call(e.method, e.path, {
          headers: { "content-type": type, ...bearerOf(e.auth) },
          body: e.valid,
        });
        expect(reply.status, `${e.path} with ${type}`).toBe(415);
        expect(Object.keys(reply.body ?? {}).sort()).toEqual(["error", "error_description"]);
      }
    }
  });

  it("oversized bodies: 413 on every endpoint that takes a body", async () => {
    for (const e of bodyEndpoints()) {
      const big =
        e.kind === "json" ? JSON.stringify({ pad: "a".repeat(20_000) }) : `pad=${"a".repeat(20_000)}`;
      const type = e.kind === "json" ? "application/json" : "application/x-www-form-urlencoded";
      const reply = await call(e.method, e.path, {
        headers: { "content-type": type, ...bearerOf(e.auth) },
        body: big,
      });
      expectError(reply, 413, "invalid_request");
    }
  });

  it("oversized headers: 431 on every endpoint", async () => {
    const paths: [string, string][] = [
      ...bodyEndpoints().map((e): [string, string] => [e.method, e.path]),
      ["GET", "/auth/me"],
      ["GET", "/healthz"],
      ["GET", "/"],
    ];
    for (const [method, path] of paths) {
      const huge: Record<string, string>[] = [
        { "x-padding": "a".repeat(20_000) },
        { authorization: `Bearer ${"a".repeat(20_000)}` },
        { cookie: `jr_refresh=${"a".repeat(20_000)}` },
      ];
      for (const headers of huge) {
        const res = await fetch(server.url + path, { method, headers });
        expect(res.status, `${method} ${path}`).toBe(431);
        await res.arrayBuffer();
      }
    }
  });

  it("hostile header values are the documented 4xx, never a crash", async () => {
    const hostile: Record<string, string>[] = [
      { authorization: "Bearer" },
      { authorization: "Bearer a b" },
      { authorization: "Bearer a,Bearer b" },
      { authorization: "Basic !!!" },
      { authorization: `Basic ${Buffer.from("no-colon").toString("base64")}` },
      { authorization: `Basic ${Buffer.from("%zz:%zz").toString("base64")}` },
      { cookie: "jr_refresh=; jr_refresh=a; jr_refresh=b" },
      { "content-type": "application/json; charset=utf-16" },
      { origin: "null" },
      { "x-forwarded-for": "1.1.1.1, 2.2.2.2" },
    ];
    for (const e of [
      ...bodyEndpoints(),
      { path: "/auth/me", method: "GET", kind: "json" as const, valid: "", auth: true },
    ]) {
      for (const h of hostile) {
        const headers: Record<string, string> = {
          "content-type": e.kind === "json" ? "application/json" : "application/x-www-form-urlencoded",
          ...deadBearerOf(e.auth),
          ...h,
        };
        const reply = await call(e.method, e.path, {
          headers,
          body: e.method === "GET" ? undefined : e.valid,
        });
        expect(reply.status, `${e.path} ${JSON.stringify(h)}`).toBeGreaterThanOrEqual(200);
        if (reply.status >= 400)
          expect(Object.keys(reply.body ?? {}).sort()).toEqual(["error", "error_description"]);
      }
    }
  });

  it("malformed HTTP (lying or invalid Content-Length, smuggling, control characters): 400, and the server stays up", async () => {
    const { hostname, port } = new URL(server.url);
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: hostname, port: Number(port) });
        let data = "";
        socket.setTimeout(5_000, () => {
          socket.destroy();
          resolve(data);
        });
        socket.on("data", (d) => {
          data += d.toString("latin1");
        });
        socket.on("end", () => resolve(data));
        socket.on("close", () => resolve(data));
        socket.on("error", reject);
        socket.write(text);
      });
    const requests = [
      // A Content-Length shorter than the body: the rest is read as a second, garbage request.
      "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}GARBAGE / HTTP/9\r\n\r\n",
      "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}",
      "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0000b\r\n\r\n",
      "GET /auth/me HTTP/1.1\r\nHost: x\r\nX-Bad Header: 1\r\n\r\n",
    ];
    for (const request of requests) {
      const answer = await raw(request);
      const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      expect(statuses.length, JSON.stringify(request)).toBeGreaterThan(0);
      for (const status of statuses) {
        expect(status, JSON.stringify(request)).toBeGreaterThanOrEqual(400);
        expect(status, JSON.stringify(request)).toBeLessThan(500);
      }
    }
    expect((await call("GET", "/healthz")).status).toBe(200);
  });

  it("after all of the above, nothing changed: users, sessions, clients, revocations, alice's password", async () => {
    expect(JSON.parse(await state())).toEqual(JSON.parse(before));
    expect(
      (await call("GET", "/auth/me", { headers: { authorization: `Bearer ${alice.access_token}` } })).status,
    ).toBe(200);
    expect((await json("POST", "/auth/login", { username: "alice", password: PASSWORD })).status).toBe(200);
  });
});
