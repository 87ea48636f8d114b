/**
 * Property-based fuzzing of every endpoint's input over real HTTP (the server in process, on a memory
 * store, so the test can look at its state): arbitrary and near-valid JSON and form bodies, duplicate
 * parameters, arbitrary content types, hostile Authorization, Cookie, Origin and other headers, odd
 * path parameters. Every answer is a documented status with the documented body (`{error,
 * error_description}` and a stable code for errors), never a 5xx; and at the end the state is what it
 * was, except for registrations the spec allows.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore, type Store } from "../../src/index.js";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import { hashSecret } from "../../src/server/passwords.js";
import { FUZZ_TIMEOUT, fuzzParams } from "./fuzz-config.js";

const PASSWORD = "alice's long password";
const CHEAP_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
/** The documented error answers: every "| status | `code` |" row of docs/http-api.md's table. */
const DOCUMENTED = new Set(
  [
    ...readFileSync(fileURLToPath(new URL("../../docs/http-api.md", import.meta.url)), "utf8").matchAll(
      /^\| (\d{3}) \| `([a-z_]+)` \|/gm,
    ),
  ].map((m) => `${m[1]} ${m[2]}`),
);
const USERNAME = /^[A-Za-z0-9._@-]{3,64}$/;

let server: RevokitServer;
let url: string;
let store: Store;
let alice: { access_token: string; refresh_token: string; session_id: string };
/** Bob's tokens, revoked (logout) before the run: hostile bodies may carry them, they change nothing. */
let revoked: string;
let revokedRefresh: string;
const secret = randomBytes(24).toString("base64url");

/** The state the hostile requests must not change. */
async function state(): Promise<Record<string, unknown>> {
  const now = Date.now();
  const aliceId = (await store.getUserByName("alice"))?.id ?? "";
  const snapshot = await store.snapshot(now);
  return {
    users: (await store.listUsers()).map((u) => `${u.username}:${u.passwordHash}:${u.disabledAt}`),
    sessions: (await store.listUserSessions(aliceId, now)).map(
      (s) => `${s.id}:${s.generation}:${s.revokedAt}`,
    ),
    revocations: snapshot.entries.map((e) => `${e.kind}:${e.subject}`).sort(),
    cutoff: snapshot.globalCutoff,
    clients: (await store.listClients()).map((c) => c.clientId),
  };
}

beforeAll(async () => {
  store = memoryStore();
  server = await createServer({
    store,
    port: 0,
    logger: "silent",
    scrypt: CHEAP_SCRYPT,
    rateLimits: { ipAttempts: 0 },
  });
  url = await server.listen();
  await store.addClient({
    clientId: "rs1",
    secretHash: await hashSecret(secret, CHEAP_SCRYPT),
    createdAt: Date.now(),
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  expect((await post("/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
  expect((await post("/auth/register", { username: "bob", password: PASSWORD })).status).toBe(201);
  alice = (await (
    await post("/auth/login", { username: "alice", password: PASSWORD })
  ).json()) as typeof alice;
  const bob = (await (
    await post("/auth/login", { username: "bob", password: PASSWORD })
  ).json()) as typeof alice;
  expect((await post("/auth/logout", {}, { authorization: `Bearer ${bob.access_token}` })).status).toBe(204);
  revoked = bob.access_token;
  revokedRefresh = bob.refresh_token;
}, 60_000);

afterAll(() => server?.close());

// ---- generators -----------------------------------------------------------------------------------

interface Endpoint {
  method: "GET" | "POST" | "DELETE";
  path: string | ((id: string) => string);
  kind: "json" | "form" | "none";
  /** Body field names, for near-valid bodies. */
  fields: string[];
  /** Whether alice's live token may be sent (only where no body can make the call change anything). */
  liveToken: boolean;
  /** 2xx statuses this endpoint may answer to fuzzed input. */
  success: number[];
}

const ENDPOINTS: Endpoint[] = [
  {
    method: "POST",
    path: "/auth/register",
    kind: "json",
    fields: ["username", "password"],
    liveToken: false,
    success: [201],
  },
  {
    method: "POST",
    path: "/auth/login",
    kind: "json",
    fields: ["username", "password", "cookie"],
    liveToken: false,
    success: [],
  },
  {
    method: "POST",
    path: "/auth/refresh",
    kind: "json",
    fields: ["refresh_token", "cookie"],
    liveToken: false,
    success: [],
  },
  {
    method: "POST",
    path: "/auth/logout",
    kind: "json",
    fields: ["refresh_token"],
    liveToken: false,
    success: [204],
  },
  { method: "POST", path: "/auth/logout-all", kind: "json", fields: [], liveToken: false, success: [] },
  {
    method: "POST",
    path: "/auth/password",
    kind: "json",
    fields: ["current_password", "new_password"],
    liveToken: true,
    success: [],
  },
  { method: "GET", path: "/auth/me", kind: "none", fields: [], liveToken: true, success: [200] },
  { method: "GET", path: "/auth/sessions", kind: "none", fields: [], liveToken: true, success: [200] },
  {
    method: "DELETE",
    path: (id) => `/auth/sessions/${encodeURIComponent(id)}`,
    kind: "none",
    fields: [],
    liveToken: true,
    success: [],
  },
  {
    method: "POST",
    path: "/oauth/token",
    kind: "form",
    fields: ["grant_type", "refresh_token", "client_id", "client_secret", "scope"],
    liveToken: false,
    success: [],
  },
  {
    method: "POST",
    path: "/oauth/revoke",
    kind: "form",
    fields: ["token", "token_type_hint", "client_id", "client_secret"],
    liveToken: false,
    success: [200],
  },
  {
    method: "POST",
    path: "/oauth/introspect",
    kind: "form",
    fields: ["token", "token_type_hint", "client_id", "client_secret"],
    liveToken: false,
    success: [200],
  },
];

/** Visible ASCII, space and tab: what an HTTP client can put in a header value. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 120,
});
const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom(
    "",
    "alice",
    "ALICE",
    "default",
    "rs1",
    "refresh_token",
    "jrt_",
    "x".repeat(300),
    "\u0000",
    "null",
  ),
  // Real but revoked tokens (a live one in a body could legitimately log alice out).
  fc.constant("placeholder:refresh").map(() => revokedRefresh),
  fc.constant("placeholder:access").map(() => revoked),
);
const hostileValue = fc.oneof(hostileString, fc.jsonValue({ maxDepth: 2 }));

function jsonBody(e: Endpoint): fc.Arbitrary<string> {
  const nearValid = fc
    .dictionary(fc.constantFrom(...e.fields, "__proto__", "constructor", "extra"), hostileValue, {
      maxKeys: 4,
    })
    .map((o) => JSON.stringify(o));
  return fc.oneof(
    { weight: 3, arbitrary: e.fields.length > 0 ? nearValid : fc.constant("{}") },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "{}}", '{"a":1,"a":2}', "[", "nul", "\u0000") },
  );
}

function formBody(e: Endpoint): fc.Arbitrary<string> {
  const pair = fc.tuple(fc.oneof(fc.constantFrom(...e.fields), fc.string({ maxLength: 10 })), hostileString);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.array(pair, { maxLength: 5 }).map((pairs) => new URLSearchParams(pairs).toString()),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("", "&&&", "=", "a=%zz", "token=%", "grant_type=refresh_token&grant_type=x"),
    },
  );
}

const contentType = (e: Endpoint) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constant(e.kind === "form" ? "application/x-www-form-urlencoded" : "application/json"),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=latin1",
        "APPLICATION/JSON",
        "multipart/form-data; boundary=--",
        "*/*",
        "application/",
        ";",
      ),
    },
    { weight: 1, arbitrary: headerText },
  );

const authorization = (e: Endpoint) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constant("live").map(() => (e.liveToken ? `Bearer ${alice.access_token}` : `Bearer ${revoked}`)),
    fc.constant("revoked").map(() => `Bearer ${revoked}`),
    fc.constant("refresh-as-bearer").map(() => `Bearer ${revokedRefresh}`),
    fc.constant("basic-rs1").map(() => `Basic ${Buffer.from(`rs1:${secret}`).toString("base64")}`),
    headerText.map((t) => `Bearer ${t}`),
    headerText.map((t) => `Basic ${Buffer.from(t).toString("base64")}`),
    headerText,
  );

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    "cookie",
    "origin",
    "sec-fetch-site",
    "x-forwarded-for",
    "user-agent",
    "accept",
    "x-unknown",
  ),
  fc.oneof(
    headerText,
    fc.constant("jr_refresh=").map((c) => `${c}${revokedRefresh}`),
  ),
  { maxKeys: 3 },
);

const request = fc.constantFrom(...ENDPOINTS).chain((e) =>
  fc.record({
    e: fc.constant(e),
    id: fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 30 }), fc.constant("x".repeat(200))),
    body: e.kind === "json" ? jsonBody(e) : e.kind === "form" ? formBody(e) : fc.constant(undefined),
    type: contentType(e),
    authorization: authorization(e),
    headers: extraHeaders,
  }),
);

// ---- the property -----------------------------------------------------------------------------------

describe("fuzz: every endpoint's input", () => {
  it(
    "answers a documented status and body, never a 5xx, and changes nothing but allowed registrations",
    async () => {
      const before = await state();
      const registered: string[] = [];
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request, async ({ e, id, body, type, authorization: auth, headers }) => {
          const path = typeof e.path === "string" ? e.path : e.path(id);
          const h: Record<string, string> = { ...headers };
          if (auth !== undefined) h.authorization = auth;
          if (body !== undefined) h["content-type"] = type;
          const res = await fetch(url + path, { method: e.method, headers: h, body });
          const text = await res.text();
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          const where = `${e.method} ${path} -> ${res.status} ${text.slice(0, 160)}`;
          expect(res.status, where).toBeLessThan(500);
          if (res.status >= 400) {
            const parsed = JSON.parse(text) as Record<string, unknown>;
            expect(Object.keys(parsed).sort(), where).toEqual(["error", "error_description"]);
            expect(DOCUMENTED, where).toContain(`${res.status} ${String(parsed.error)}`);
            expect(typeof parsed.error_description, where).toBe("string");
            // Never a token echoed back.
            expect(text).not.toContain(revokedRefresh);
            expect(text).not.toContain(alice.access_token.slice(0, 40));
            return;
          }
          expect(e.success, where).toContain(res.status);
          if (path === "/auth/register") {
            // Only a registration the spec allows: a valid username and an 8 to 256 character password.
            const input = JSON.parse(body as string) as { username: string; password: string };
            expect(USERNAME.test(input.username), where).toBe(true);
            expect([...input.password].length, where).toBeGreaterThanOrEqual(8);
            registered.push(input.username.toLowerCase());
          }
          if (path === "/oauth/introspect")
            expect(JSON.parse(text), where).toMatchObject({ active: expect.any(Boolean) });
          if (path === "/oauth/revoke" || path === "/auth/logout") expect(text, where).toBe("");
        }),
        fuzzParams(600),
      );
      const after = await state();
      const users = before.users as string[];
      expect((after.users as string[]).filter((u) => !users.includes(u)).map((u) => u.split(":")[0])).toEqual(
        registered.sort(),
      );
      expect({ ...after, users: null }).toEqual({ ...before, users: null });
      // The fuzzer reached past the parsers: some requests were answered by the handlers themselves.
      expect([...seen.keys()].some((s) => s === 401 || s === 404 || s === 200)).toBe(true);
      // Alice's session and password still work.
      const me = await fetch(`${url}/auth/me`, {
        headers: { authorization: `Bearer ${alice.access_token}` },
      });
      expect(me.status).toBe(200);
    },
    FUZZ_TIMEOUT,
  );
});
