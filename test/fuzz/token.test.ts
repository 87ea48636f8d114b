/**
 * Property-based fuzzing of the token parser and verifier (`verifyCompactJws`, `Auth.verify`) and of
 * `Auth.refresh`: arbitrary input never throws anything but the documented `AuthError` subclass, a
 * genuine token changed in any way is never accepted, and a hand-signed token is accepted exactly when
 * the rules of RFC 7515 / RFC 9068 / RFC 8725 as documented say it should be.
 */
import { createHmac, createPrivateKey, type JsonWebKey, type KeyObject, sign } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyCompactJws } from "../../src/core/jws.js";
import { KeyRing, loadKey } from "../../src/core/keys.js";
import {
  ALGORITHMS,
  type Algorithm,
  type Auth,
  AuthError,
  createAuth,
  memoryStore,
  RefreshInvalidError,
  type StoredKey,
  TokenExpiredError,
  TokenInvalidError,
  type TokenSet,
} from "../../src/index.js";
import { testClock } from "../helpers/clock.js";
import { FUZZ_TIMEOUT, fuzzParams } from "./fuzz-config.js";

const ISSUER = "https://issuer.fuzz";
const AUDIENCE = "api";
const TOLERANCE_SEC = 5;
const clock = testClock();
const nowSec = Math.floor(clock() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

const store = memoryStore();
const minters: Auth[] = [];
let verifier: Auth;
let keys: StoredKey[];
/** Genuine access tokens, several per algorithm. */
const genuine: string[] = [];
/** Genuine token sets (access + refresh) of the verifier's own logins. */
const sets: TokenSet[] = [];
let edKey: { kid: string; privateKey: KeyObject };
let ring: KeyRing;

beforeAll(async () => {
  // One node per algorithm, all on one store, so the verifier holds a key of every algorithm.
  for (const algorithm of ALGORITHMS) {
    minters.push(
      await createAuth({
        issuer: ISSUER,
        audience: AUDIENCE,
        store,
        clock,
        algorithm,
        algorithms: [...ALGORITHMS],
      }),
    );
  }
  verifier = await createAuth({
    issuer: ISSUER,
    audience: AUDIENCE,
    store,
    clock,
    algorithms: [...ALGORITHMS],
  });
  for (const minter of minters) {
    for (let i = 0; i < 3; i++)
      genuine.push((await minter.login(`user-${i}`, { claims: { n: i } })).accessToken);
  }
  for (let i = 0; i < 3; i++) sets.push(await verifier.login(`owner-${i}`));
  keys = await store.listKeys();
  const ed = keys.find((k) => k.alg === "EdDSA");
  if (!ed) throw new Error("no EdDSA key");
  edKey = { kid: ed.kid, privateKey: createPrivateKey({ key: ed.privateJwk as JsonWebKey, format: "jwk" }) };
  ring = new KeyRing(keys.map(loadKey));
  for (const token of genuine) await expect(verifier.verify(token)).resolves.toBeTruthy();
}, 60_000);

afterAll(async () => {
  await Promise.all([verifier, ...minters].map((a) => a?.close()));
});

/** The outcome of one verification: the claims, or the error (which must be an AuthError). */
async function outcome(
  token: unknown,
): Promise<{ ok: true; claims: Record<string, unknown> } | { ok: false; error: AuthError }> {
  try {
    return { ok: true, claims: await verifier.verify(token as string) };
  } catch (error) {
    if (!(error instanceof AuthError)) throw new Error(`verify threw a non-AuthError: ${String(error)}`);
    return { ok: false, error };
  }
}

/** No error message may carry token material. */
function expectNoTokenIn(message: string, token: unknown): void {
  if (typeof token !== "string" || token.length < 16) return;
  for (let i = 0; i + 16 <= token.length; i += 16) expect(message).not.toContain(token.slice(i, i + 16));
}

// ---- generators -----------------------------------------------------------------------------------

const ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];
const HOSTILE_CHARS = [
  ...ALPHABET,
  ".",
  "=",
  "+",
  "/",
  " ",
  "\t",
  "\n",
  "\r",
  '"',
  "\\",
  "\u0000",
  "\u00e9",
  "\u2028",
];
const anyChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_CHARS) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: "binary" }) },
);
const HEADER_NAMES = [
  "alg",
  "kid",
  "typ",
  "crit",
  "jwk",
  "jku",
  "x5u",
  "x5c",
  "cty",
  "b64",
  "zip",
  "enc",
] as const;
const CLAIM_NAMES = [
  "iss",
  "aud",
  "sub",
  "sid",
  "jti",
  "client_id",
  "iat",
  "exp",
  "nbf",
  "scope",
  "role",
] as const;

/** A hostile JSON value: the shapes JSON can carry plus the usual trouble (big, negative, NaN-ish). */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    "none",
    "None",
    "HS256",
    "RS256",
    "ES256",
    "EdDSA",
    "PS256",
    "",
    "at+jwt",
    "JWT",
    "__proto__",
  ),
  fc.constantFrom(-1, 0, 1e21, Number.MAX_SAFE_INTEGER + 2, nowSec, nowSec + 3600, nowSec - 3600, 1.5),
);

type Mutation =
  | { kind: "replace" | "insert"; at: number; ch: string }
  | { kind: "delete" | "truncate" | "flipCase"; at: number }
  | { kind: "swapParts" | "dupPart"; i: number; j: number }
  | { kind: "header" | "payload"; set: Record<string, unknown>; drop: string[] }
  | { kind: "foreignSignature"; from: number }
  | { kind: "wrap"; before: string; after: string }
  | { kind: "pad"; part: number }
  | { kind: "standardBase64" };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom("replace" as const, "insert" as const), at: fc.nat(), ch: anyChar }),
  fc.record({
    kind: fc.constantFrom("delete" as const, "truncate" as const, "flipCase" as const),
    at: fc.nat(),
  }),
  fc.record({ kind: fc.constantFrom("swapParts" as const, "dupPart" as const), i: fc.nat(2), j: fc.nat(2) }),
  fc.record({
    kind: fc.constant("header" as const),
    set: fc.dictionary(fc.constantFrom(...HEADER_NAMES), hostileValue, { maxKeys: 3 }),
    drop: fc.subarray([...HEADER_NAMES]),
  }),
  fc.record({
    kind: fc.constant("payload" as const),
    set: fc.dictionary(fc.constantFrom(...CLAIM_NAMES), hostileValue, { maxKeys: 3 }),
    drop: fc.subarray([...CLAIM_NAMES]),
  }),
  fc.record({ kind: fc.constant("foreignSignature" as const), from: fc.nat() }),
  fc.record({
    kind: fc.constant("wrap" as const),
    before: fc.constantFrom("", " ", "\t", '"', "Bearer "),
    after: fc.constantFrom("", " ", "\n", '"', ".", "=", "=="),
  }),
  fc.record({ kind: fc.constant("pad" as const), part: fc.nat(2) }),
  fc.constant({ kind: "standardBase64" as const }),
);

function reencode(part: string, set: Record<string, unknown>, drop: string[]): string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return part;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return part;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const name of drop) delete copy[name];
  for (const [name, v] of Object.entries(set)) copy[name] = v;
  return b64(copy);
}

function applyMutation(token: string, m: Mutation): string {
  const parts = token.split(".");
  const at = (n: number) => (token.length === 0 ? 0 : n % (token.length + 1));
  switch (m.kind) {
    case "replace":
      return token.slice(0, at(m.at)) + m.ch + token.slice(at(m.at) + 1);
    case "insert":
      return token.slice(0, at(m.at)) + m.ch + token.slice(at(m.at));
    case "delete":
      return token.slice(0, at(m.at)) + token.slice(at(m.at) + 1);
    case "truncate":
      return token.slice(0, at(m.at));
    case "flipCase": {
      const i = at(m.at);
      const c = token.charAt(i);
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return token.slice(0, i) + flipped + token.slice(i + 1);
    }
    case "swapParts": {
      const copy = [...parts];
      const a = copy[m.i % copy.length] ?? "";
      copy[m.i % copy.length] = copy[m.j % copy.length] ?? "";
      copy[m.j % copy.length] = a;
      return copy.join(".");
    }
    case "dupPart": {
      const copy = [...parts];
      copy.splice(m.j % (copy.length + 1), 0, copy[m.i % copy.length] ?? "");
      return copy.join(".");
    }
    case "header":
      return parts.length === 3 ? [reencode(parts[0]!, m.set, m.drop), parts[1], parts[2]].join(".") : token;
    case "payload":
      return parts.length === 3 ? [parts[0], reencode(parts[1]!, m.set, m.drop), parts[2]].join(".") : token;
    case "foreignSignature": {
      const other = genuine[m.from % genuine.length]!;
      return parts.length === 3 ? `${parts[0]}.${parts[1]}.${other.split(".")[2]}` : token;
    }
    case "wrap":
      return m.before + token + m.after;
    case "pad": {
      const copy = [...parts];
      copy[m.part % copy.length] += "=";
      return copy.join(".");
    }
    case "standardBase64":
      return token.replaceAll("-", "+").replaceAll("_", "/");
  }
}

/** A genuine token and the same token changed by one to three mutations (never equal to it). */
const mutatedToken = fc
  .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([i, ms]) => {
    const original = genuine[i % genuine.length]!;
    return { original, mutated: ms.reduce(applyMutation, original), ms };
  })
  .filter(({ original, mutated }) => original !== mutated);

/** Strings shaped like compact JWS: three dot-separated parts of base64url, JSON or junk. */
const jwsShaped = fc
  .tuple(
    fc.oneof(fc.jsonValue({ maxDepth: 2 }).map(b64), fc.string({ unit: "binary", maxLength: 40 })),
    fc.oneof(fc.jsonValue({ maxDepth: 2 }).map(b64), fc.string({ unit: "binary", maxLength: 40 })),
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("base64url")),
      fc.string(),
    ),
  )
  .map((p) => p.join("."));

const arbitraryInput = fc.oneof(
  fc.string({ unit: "binary", maxLength: 400 }),
  fc.string({ unit: fc.constantFrom(...HOSTILE_CHARS), maxLength: 400 }),
  jwsShaped,
  fc.nat(20_000).map((n) => `${"a".repeat(n)}.b.c`),
);

// ---- properties -----------------------------------------------------------------------------------

describe("fuzz: Auth.verify and verifyCompactJws", () => {
  it(
    "arbitrary strings and values are refused with ERR_TOKEN_INVALID, never another error",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 5, arbitrary: arbitraryInput }, { weight: 1, arbitrary: fc.anything() }),
          async (input) => {
            const result = await outcome(input);
            expect(result.ok).toBe(false);
            if (!result.ok) {
              expect(result.error).toBeInstanceOf(TokenInvalidError);
              expectNoTokenIn(result.error.message, input);
            }
          },
        ),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "verifyCompactJws throws only TokenInvalidError on arbitrary input",
    () => {
      const options = {
        algorithms: new Set<Algorithm>(ALGORITHMS),
        key: (kid: string) => ring.get(kid),
        maxLength: 8192,
        typ: "at+jwt",
      };
      fc.assert(
        fc.property(fc.oneof(arbitraryInput, fc.anything()), (input) => {
          expect(() => verifyCompactJws(input, options)).toThrow(TokenInvalidError);
        }),
        fuzzParams(600),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "a genuine token changed in any way is never accepted (every algorithm)",
    async () => {
      await fc.assert(
        fc.asyncProperty(mutatedToken, async ({ mutated }) => {
          const result = await outcome(mutated);
          expect(result.ok).toBe(false);
          if (!result.ok) {
            expect(result.error.code).toBe("ERR_TOKEN_INVALID");
            expectNoTokenIn(result.error.message, mutated);
          }
          // The same verdict without the replica and the claims: the JWS layer alone refuses it.
          expect(() =>
            verifyCompactJws(mutated, {
              algorithms: new Set<Algorithm>(ALGORITHMS),
              key: (kid) => ring.get(kid),
              maxLength: 8192,
              typ: "at+jwt",
            }),
          ).toThrow(TokenInvalidError);
        }),
        fuzzParams(500),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "a token signed with our own key is accepted exactly when its header and claims are acceptable",
    async () => {
      /** Mostly the good value, sometimes a hostile one, sometimes absent. */
      const mostly = <T>(good: fc.Arbitrary<T>) =>
        fc.oneof(
          { weight: 16, arbitrary: good },
          { weight: 1, arbitrary: hostileValue },
          { weight: 1, arbitrary: fc.constant(undefined) },
        );
      /** Now and then, one header parameter that must not be there. */
      const extraHeaders = fc.oneof(
        { weight: 6, arbitrary: fc.constant({}) },
        {
          weight: 1,
          arbitrary: fc.dictionary(
            fc.constantFrom("crit", "jwk", "jku", "x5u", "x5c", "cty", "b64"),
            hostileValue,
            { maxKeys: 2 },
          ),
        },
      );
      const header = fc
        .tuple(
          fc.record({
            alg: mostly(fc.constant("EdDSA")),
            kid: mostly(fc.constant(edKey.kid)),
            typ: mostly(fc.constantFrom("at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT")),
          }),
          extraHeaders,
        )
        .map(([base, extra]) => ({ ...base, ...extra }));
      const around = (min: number, max: number) =>
        mostly(fc.integer({ min: nowSec + min, max: nowSec + max }));
      const payload = fc.record({
        iss: mostly(fc.constant(ISSUER)),
        aud: mostly(fc.constantFrom(AUDIENCE, [AUDIENCE, "other"], ["other"], "other")),
        sub: mostly(fc.string({ minLength: 0, maxLength: 8 })),
        sid: mostly(fc.constant("sid-1")),
        jti: mostly(fc.string({ minLength: 0, maxLength: 8 })),
        client_id: mostly(fc.constant("default")),
        iat: around(-1200, 30),
        exp: around(-30, 1200),
        nbf: fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: around(-60, 60) },
        ),
        role: fc.oneof(fc.constant(undefined), hostileValue),
      });
      const seen = { accepted: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(header, payload, async (h, p) => {
          const input = `${b64(h)}.${b64(p)}`;
          const token = `${input}.${sign(null, Buffer.from(input), edKey.privateKey).toString("base64url")}`;
          const result = await outcome(token);
          // JSON.stringify drops undefined and turns non-finite numbers into null: judge what was sent.
          const sentHeader = JSON.parse(JSON.stringify(h)) as Record<string, unknown>;
          const sentPayload = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
          const expected = acceptable(sentHeader, sentPayload);
          expect({ accepted: result.ok, why: expected.why }).toEqual({
            accepted: expected.ok,
            why: expected.why,
          });
          seen[result.ok ? "accepted" : "refused"]++;
          if (!result.ok) {
            expect([TokenInvalidError, TokenExpiredError].some((c) => result.error instanceof c)).toBe(true);
            expectNoTokenIn(result.error.message, token);
          }
        }),
        fuzzParams(500),
      );
      // The generators reach both sides of the rule (the property is not vacuous).
      expect(seen.accepted).toBeGreaterThan(0);
      expect(seen.refused).toBeGreaterThan(0);
    },
    FUZZ_TIMEOUT,
  );

  it(
    "HS256 forged with the EdDSA public key (algorithm confusion) is refused whatever the claims",
    async () => {
      const ed = keys.find((k) => k.alg === "EdDSA")!;
      const x = Buffer.from(String(ed.publicJwk?.x), "base64url");
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.constantFrom(...CLAIM_NAMES), hostileValue),
          fc.boolean(),
          async (claims, edKid) => {
            const hs = keys.find((k) => k.alg === "HS256")!;
            const input = `${b64({ alg: "HS256", typ: "at+jwt", kid: edKid ? ed.kid : hs.kid })}.${b64(claims)}`;
            const token = `${input}.${createHmac("sha256", x).update(input).digest("base64url")}`;
            const result = await outcome(token);
            expect(result.ok).toBe(false);
            if (!result.ok) expect(result.error).toBeInstanceOf(TokenInvalidError);
          },
        ),
        fuzzParams(100),
      );
    },
    FUZZ_TIMEOUT,
  );
});

/** The documented acceptance rule, written independently of the implementation. */
function acceptable(h: Record<string, unknown>, p: Record<string, unknown>): { ok: boolean; why: string } {
  const now = clock() / 1000;
  const typ = typeof h.typ === "string" ? h.typ.toLowerCase() : undefined;
  if (h.alg !== "EdDSA") return { ok: false, why: "alg" };
  if (h.kid !== edKey.kid) return { ok: false, why: "kid" };
  if (typ !== "at+jwt" && typ !== "application/at+jwt") return { ok: false, why: "typ" };
  for (const name of ["crit", "jwk", "jku", "x5u", "x5c"])
    if (h[name] !== undefined) return { ok: false, why: name };
  const nonEmpty = (v: unknown) => typeof v === "string" && v.length > 0;
  const date = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
  if (!nonEmpty(p.sub) || !nonEmpty(p.jti) || !nonEmpty(p.sid) || typeof p.client_id !== "string") {
    return { ok: false, why: "claims" };
  }
  if (!date(p.iat) || !date(p.exp) || (p.nbf !== undefined && !date(p.nbf)))
    return { ok: false, why: "claims" };
  if (p.iss !== ISSUER) return { ok: false, why: "iss" };
  if (!(p.aud === AUDIENCE || (Array.isArray(p.aud) && p.aud.includes(AUDIENCE))))
    return { ok: false, why: "aud" };
  if (p.exp <= now - TOLERANCE_SEC) return { ok: false, why: "exp" };
  if (p.nbf !== undefined && (p.nbf as number) > now + TOLERANCE_SEC) return { ok: false, why: "nbf" };
  if (p.iat > now + TOLERANCE_SEC) return { ok: false, why: "iat" };
  return { ok: true, why: "" };
}

describe("fuzz: Auth.refresh", () => {
  it(
    "arbitrary input and changed refresh tokens are ERR_REFRESH_INVALID and change nothing",
    async () => {
      const target = sets[0]!;
      const refreshMutation = fc
        .array(
          fc.oneof(
            fc.record({
              kind: fc.constantFrom("replace" as const, "insert" as const),
              at: fc.nat(),
              ch: anyChar,
            }),
            fc.record({
              kind: fc.constantFrom("delete" as const, "truncate" as const, "flipCase" as const),
              at: fc.nat(),
            }),
            fc.record({
              kind: fc.constant("wrap" as const),
              before: fc.constantFrom("", " ", '"'),
              after: fc.constantFrom("", " ", "\n", "="),
            }),
          ),
          { minLength: 1, maxLength: 3 },
        )
        .map((ms) => ms.reduce(applyMutation, target.refreshToken))
        .filter((t) => t !== target.refreshToken);
      const before = await verifier.listSessions("owner-0");
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(refreshMutation, arbitraryInput, fc.constantFrom(...genuine), fc.anything()),
          async (input) => {
            const error = await verifier.refresh(input as string).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(RefreshInvalidError);
            expect((error as RefreshInvalidError).code).toBe("ERR_REFRESH_INVALID");
            expectNoTokenIn((error as Error).message, input);
          },
        ),
        fuzzParams(300),
      );
      // Nothing changed: the same sessions, and the genuine refresh token is still the live one.
      expect(await verifier.listSessions("owner-0")).toEqual(before);
      await expect(verifier.verify(target.accessToken)).resolves.toBeTruthy();
      const next = await verifier.refresh(target.refreshToken);
      await expect(verifier.verify(next.accessToken)).resolves.toMatchObject({ sid: target.sessionId });
    },
    FUZZ_TIMEOUT,
  );
});
