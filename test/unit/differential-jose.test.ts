import {
  createHmac,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, createAuth, memoryStore } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";

/**
 * Differential tests: our verifier (`Auth.verify`, signature and claims) against `jose.jwtVerify`
 * configured the same way, on valid and hostile tokens for all four algorithms. Both must accept and
 * reject exactly the same tokens, except where a token matches one of the exceptions below, each of
 * which is listed in docs/errors.md ("Stricter than jose"), and then only in one direction: we refuse,
 * jose accepts. We are never the more lenient one.
 */

const ISSUER = "https://issuer.test";
const AUDIENCE = "api";
const TOLERANCE_S = 5;
const MAX_TOKEN_LENGTH = 8192;
const ALGS = ["EdDSA", "ES256", "RS256", "HS256"] as const;
type Alg = (typeof ALGS)[number];
const REQUIRED = ["sub", "jti", "sid", "client_id", "iat", "exp"];

const BASE = Date.UTC(2026, 0, 1, 12, 0, 0);
const clock = testClock(BASE);

interface Signer {
  alg: Alg;
  kid: string;
  /** What signs: private key or HMAC secret. */
  signKey: KeyObject;
  /** What verifies, as jose is given it. */
  verifyKey: KeyObject;
}

const ed = generateKeyPairSync("ed25519");
const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rs = generateKeyPairSync("rsa", { modulusLength: 2048 });
const hs = createSecretKey(randomBytes(32));
const SIGNERS: Record<Alg, Signer> = {
  EdDSA: { alg: "EdDSA", kid: "k-ed", signKey: ed.privateKey, verifyKey: ed.publicKey },
  ES256: { alg: "ES256", kid: "k-es", signKey: es.privateKey, verifyKey: es.publicKey },
  RS256: { alg: "RS256", kid: "k-rs", signKey: rs.privateKey, verifyKey: rs.publicKey },
  HS256: { alg: "HS256", kid: "k-hs", signKey: hs, verifyKey: hs },
};
const BY_KID = new Map(Object.values(SIGNERS).map((s) => [s.kid, s]));
/** Keys nobody trusts: a forger's. */
const ATTACKER: Record<Alg, KeyObject> = {
  EdDSA: generateKeyPairSync("ed25519").privateKey,
  ES256: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
  RS256: rs.privateKey, // replaced below by a distinct key only when needed (RSA generation is slow)
  HS256: createSecretKey(randomBytes(32)),
};

function signWith(alg: Alg, key: KeyObject, input: string): Buffer {
  const data = Buffer.from(input, "latin1");
  switch (alg) {
    case "EdDSA":
      return sign(null, data, key);
    case "ES256":
      return sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return sign("sha256", data, key);
    case "HS256":
      return createHmac("sha256", key).update(data).digest();
  }
}

const b64u = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");

// ---- what the two verifiers say ------------------------------------------------------------------

let auth: Auth;

type Outcome = { ok: true; claims: unknown } | { ok: false; code: string };

async function ours(token: string): Promise<Outcome> {
  try {
    return { ok: true, claims: await auth.verify(token) };
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    // Only a verdict on the token is expected here; anything else is a bug.
    expect(["ERR_TOKEN_INVALID", "ERR_TOKEN_EXPIRED"]).toContain(code);
    return { ok: false, code };
  }
}

async function theirs(token: string): Promise<Outcome> {
  try {
    const { payload } = await jose.jwtVerify(
      token,
      (header) => {
        const s = typeof header.kid === "string" ? BY_KID.get(header.kid) : undefined;
        if (!s) throw new Error("no key with this kid");
        return s.verifyKey;
      },
      {
        algorithms: [...ALGS],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: "at+jwt",
        requiredClaims: REQUIRED,
        clockTolerance: TOLERANCE_S,
        currentDate: new Date(clock()),
      },
    );
    return { ok: true, claims: payload };
  } catch (e) {
    return { ok: false, code: (e as { code?: string }).code ?? String(e) };
  }
}

// ---- the documented exceptions --------------------------------------------------------------------

/** What the exceptions look at: the token's parts, decoded leniently (as jose would). */
interface Inspected {
  token: string;
  segments: string[];
  headerBytes: Buffer | undefined;
  payloadBytes: Buffer | undefined;
  header: Record<string, unknown> | undefined;
  payload: Record<string, unknown> | undefined;
  signature: Buffer | undefined;
}

const lenientDecoder = new TextDecoder(); // strips a BOM, replaces bad UTF-8, like jose's decoders minus `fatal`

function lenientBytes(segment: string | undefined): Buffer | undefined {
  if (segment === undefined) return undefined;
  return Buffer.from(segment.replace(/[\s=]/g, ""), "base64url");
}

function lenientJson(bytes: Buffer | undefined): Record<string, unknown> | undefined {
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(lenientDecoder.decode(bytes));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function inspect(token: string): Inspected {
  const segments = token.split(".");
  const headerBytes = lenientBytes(segments[0]);
  const payloadBytes = lenientBytes(segments[1]);
  return {
    token,
    segments,
    headerBytes,
    payloadBytes,
    header: lenientJson(headerBytes),
    payload: lenientJson(payloadBytes),
    signature: lenientBytes(segments[2]),
  };
}

const isStrictB64u = (s: string) =>
  /^[A-Za-z0-9_-]*$/.test(s) && s.length % 4 !== 1 && Buffer.from(s, "base64url").toString("base64url") === s;
const nowSec = () => clock() / 1000;
const num = (v: unknown): v is number => typeof v === "number";

interface Exception {
  /** A phrase of the "Stricter than `jose`" section of docs/errors.md that documents it. */
  doc: string;
  matches(t: Inspected): boolean;
}

/** Every documented way in which our verifier is stricter than jose. Nothing else may differ. */
const EXCEPTIONS: Record<string, Exception> = {
  base64url: {
    doc: "padded or non-canonical base64url, or any character outside the URL-safe alphabet",
    matches: (t) => t.segments.length === 3 && !t.segments.every(isStrictB64u),
  },
  crit: {
    doc: "any `crit` header",
    matches: (t) => t.header !== undefined && Object.hasOwn(t.header, "crit"),
  },
  embeddedKey: {
    doc: "any embedded-key header (`jwk`, `jku`, `x5u`, `x5c`)",
    matches: (t) =>
      t.header !== undefined && ["jwk", "jku", "x5u", "x5c"].some((k) => t.header?.[k] !== undefined),
  },
  claimTypes: {
    doc: "`sub`, `jti` or `sid` that is not a non-empty string, a `client_id` that is not a string",
    matches: (t) =>
      t.payload !== undefined &&
      (["sub", "jti", "sid"].some((k) => typeof t.payload?.[k] !== "string" || t.payload[k] === "") ||
        typeof t.payload.client_id !== "string"),
  },
  numericDates: {
    doc: "`iat`, `exp` or `nbf` that is negative or not finite",
    matches: (t) =>
      t.payload !== undefined &&
      ["iat", "exp", "nbf"].some(
        (k) => num(t.payload?.[k]) && !((t.payload[k] as number) >= 0 && Number.isFinite(t.payload[k])),
      ),
  },
  iatFuture: {
    doc: "`iat` in the future beyond the tolerance",
    matches: (t) => num(t.payload?.iat) && t.payload.iat > Math.floor(nowSec()) + TOLERANCE_S,
  },
  bom: {
    doc: "a byte order mark before the header or claims JSON",
    matches: (t) => [t.headerBytes, t.payloadBytes].some((b) => b?.subarray(0, 3).equals(BOM)),
  },
  tooLong: { doc: "a token longer than `maxTokenLength`", matches: (t) => t.token.length > MAX_TOKEN_LENGTH },
  expToTheMillisecond: {
    doc: "`exp` is compared to the millisecond",
    matches: (t) => num(t.payload?.exp) && t.payload.exp <= nowSec() - TOLERANCE_S,
  },
  es256SignatureLength: {
    doc: "ES256 signatures that are not exactly 64 bytes",
    matches: (t) => t.header?.alg === "ES256" && t.signature !== undefined && t.signature.length !== 64,
  },
};
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Runs both verifiers and fails unless they agree or a documented exception explains the difference. */
async function compare(token: string): Promise<{ ours: Outcome; theirs: Outcome; exceptions: string[] }> {
  const a = await ours(token);
  const b = await theirs(token);
  const exceptions = Object.entries(EXCEPTIONS)
    .filter(([, e]) => e.matches(inspect(token)))
    .map(([name]) => name);
  if (a.ok && b.ok) {
    expect(a.claims).toEqual(b.claims);
  } else if (a.ok !== b.ok) {
    const detail = `ours ${a.ok ? "accepts" : `refuses (${(a as { code: string }).code})`}, jose ${
      b.ok ? "accepts" : `refuses (${(b as { code: string }).code})`
    }: ${token.slice(0, 400)}`;
    // We may only be the stricter one, and only for a documented reason.
    expect(a.ok, `we accept what jose refuses: ${detail}`).toBe(false);
    expect(exceptions, `undocumented difference: ${detail}`).not.toEqual([]);
  }
  return { ours: a, theirs: b, exceptions };
}

// ---- token construction ----------------------------------------------------------------------------

/** A header or claim edit: `undefined` deletes, `{ raw }` inserts literal JSON (for `1e999`, `-0`). */
type Value = unknown;
interface Raw {
  raw: string;
}
const raw = (text: string): Raw => ({ raw: text });
const isRaw = (v: unknown): v is Raw => typeof v === "object" && v !== null && "raw" in v;

/** JSON text with `{raw}` members spliced in verbatim. */
function toJson(obj: Record<string, Value>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${isRaw(v) ? v.raw : JSON.stringify(v)}`);
  }
  return `{${parts.join(",")}}`;
}

interface Recipe {
  alg: Alg;
  header: [string, Value][];
  claims: [string, Value][];
  /** How the JSON bytes are altered before encoding. */
  bytes: "none" | "bom-header" | "bom-payload" | "bad-utf8-payload" | "bad-utf8-header" | "payload-array";
  /** How the base64url text is altered before signing (the signature then covers the altered text). */
  text:
    | "none"
    | "pad-header"
    | "pad-payload"
    | "space-payload"
    | "noncanonical-header"
    | "noncanonical-payload"
    | "plus";
  signer: "kid" | "alg" | "attacker" | "confusion" | "none";
  /** How the signature is altered after signing. */
  sig:
    | "none"
    | "flip"
    | "truncate"
    | "append"
    | "pad"
    | "noncanonical"
    | "der"
    | "empty"
    | "tamper-payload"
    | "dot";
  /** Current time, ms after BASE. */
  at: number;
}

const claimValues = {
  iss: [ISSUER, "https://evil.test", "", 1, undefined, `${ISSUER}/`],
  aud: [
    AUDIENCE,
    [AUDIENCE],
    ["other", AUDIENCE],
    ["other"],
    "other",
    1,
    [1, AUDIENCE],
    null,
    undefined,
    "API",
  ],
  sub: ["u1", "", 5, null, undefined, { id: 1 }],
  jti: ["j1", "", 7, undefined, ["j1"]],
  sid: ["s1", "", 0, undefined, false],
  client_id: ["default", "", 3, undefined, null],
  scope: ["read write", 1, undefined],
  custom: [{ nested: [1, "x"] }, "é😀", undefined, "x".repeat(9000)],
};

function timeValue(kind: "iat" | "exp" | "nbf"): fc.Arbitrary<Value> {
  const s = Math.floor(BASE / 1000);
  const around = kind === "exp" ? s - TOLERANCE_S : s + TOLERANCE_S;
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: around - 3, max: around + 3 }) },
    { weight: 3, arbitrary: fc.integer({ min: s - 4000, max: s + 4000 }) },
    { weight: 2, arbitrary: fc.double({ min: around - 3, max: around + 3, noNaN: true }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Value>(
        undefined,
        String(s),
        null,
        -1,
        0,
        raw("1e999"),
        raw("-1e999"),
        raw("-0"),
        raw(`${s}.0`),
        raw(`${s + 600}e0`),
        true,
      ),
    },
  );
}

const headerEdit: fc.Arbitrary<[string, Value]> = fc.oneof(
  fc.tuple(
    fc.constant("alg"),
    fc.constantFrom<Value>("none", "None", "HS512", "ES384", "PS256", "Ed25519", "", 1, null, ...ALGS),
  ),
  fc.tuple(
    fc.constant("kid"),
    fc.constantFrom<Value>("k-ed", "k-es", "k-rs", "k-hs", "nope", "", 7, null, undefined),
  ),
  fc.tuple(
    fc.constant("typ"),
    fc.constantFrom<Value>(
      "at+jwt",
      "AT+JWT",
      "application/at+jwt",
      "Application/At+Jwt",
      "JWT",
      "application/jwt",
      "at+jwt ",
      "text/at+jwt",
      "",
      undefined,
      1,
    ),
  ),
  fc.tuple(fc.constant("crit"), fc.constantFrom<Value>(["b64"], ["exp"], [], "b64", [""], ["b64", "b64"])),
  fc.tuple(fc.constant("b64"), fc.boolean()),
  fc.tuple(
    fc.constantFrom("jwk", "jku", "x5u", "x5c"),
    fc.constantFrom<Value>(ed.publicKey.export({ format: "jwk" }), "https://attacker.test/keys", ["MIIB"]),
  ),
  fc.tuple(fc.constantFrom("cty", "zip", "x"), fc.jsonValue({ maxDepth: 1 })),
);

const claimEdit: fc.Arbitrary<[string, Value]> = fc.oneof(
  ...Object.entries(claimValues).map(([k, vs]) => fc.tuple(fc.constant(k), fc.constantFrom<Value>(...vs))),
  fc.tuple(fc.constant("iat"), timeValue("iat")),
  fc.tuple(fc.constant("exp"), timeValue("exp")),
  fc.tuple(fc.constant("nbf"), timeValue("nbf")),
  fc.tuple(fc.constantFrom("__proto__", "constructor", "x"), fc.jsonValue({ maxDepth: 2 })),
);

const recipe: fc.Arbitrary<Recipe> = fc.record({
  alg: fc.constantFrom(...ALGS),
  header: fc.array(headerEdit, { maxLength: 2 }),
  claims: fc.array(claimEdit, { maxLength: 3 }),
  bytes: fc.oneof(
    { weight: 20, arbitrary: fc.constant("none" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "bom-header" as const,
        "bom-payload" as const,
        "bad-utf8-payload" as const,
        "bad-utf8-header" as const,
        "payload-array" as const,
      ),
    },
  ),
  text: fc.oneof(
    { weight: 20, arbitrary: fc.constant("none" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "pad-header" as const,
        "pad-payload" as const,
        "space-payload" as const,
        "noncanonical-header" as const,
        "noncanonical-payload" as const,
        "plus" as const,
      ),
    },
  ),
  signer: fc.oneof(
    { weight: 12, arbitrary: fc.constant("kid" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("alg" as const, "attacker" as const, "confusion" as const, "none" as const),
    },
  ),
  sig: fc.oneof(
    { weight: 15, arbitrary: fc.constant("none" as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "flip" as const,
        "truncate" as const,
        "append" as const,
        "pad" as const,
        "noncanonical" as const,
        "der" as const,
        "empty" as const,
        "tamper-payload" as const,
        "dot" as const,
      ),
    },
  ),
  at: fc.integer({ min: 0, max: 999 }),
});

/** Changes the last character of a base64url text to another that decodes to the same bytes (non-canonical). */
function nonCanonical(s: string): string {
  if (s.length % 4 === 0) return `${s}=`; // no spare bits: fall back to padding
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const v = alphabet.indexOf(s.at(-1)!);
  return s.slice(0, -1) + alphabet[v | 1];
}

function build(r: Recipe): string {
  const base = SIGNERS[r.alg];
  const header: Record<string, Value> = { alg: base.alg, kid: base.kid, typ: "at+jwt" };
  for (const [k, v] of r.header) header[k] = v;
  const s = Math.floor(BASE / 1000);
  const claims: Record<string, Value> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "u1",
    client_id: "default",
    sid: "s1",
    jti: "j1",
    iat: s - 10,
    exp: s + 600,
  };
  for (const [k, v] of r.claims) {
    if (k === "custom") claims.custom = v;
    else claims[k] = v;
  }
  let headerBytes = Buffer.from(toJson(header));
  let payloadBytes = Buffer.from(r.bytes === "payload-array" ? `[${toJson(claims)}]` : toJson(claims));
  const badUtf8 = (b: Buffer) =>
    Buffer.concat([
      b.subarray(0, b.length - 1),
      Buffer.from(',"z":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
  if (r.bytes === "bom-header") headerBytes = Buffer.concat([BOM, headerBytes]);
  if (r.bytes === "bom-payload") payloadBytes = Buffer.concat([BOM, payloadBytes]);
  if (r.bytes === "bad-utf8-payload") payloadBytes = badUtf8(payloadBytes);
  if (r.bytes === "bad-utf8-header") headerBytes = badUtf8(headerBytes);
  let h = b64u(headerBytes);
  let p = b64u(payloadBytes);
  if (r.text === "pad-header") h += "=".repeat((4 - (h.length % 4)) % 4 || 4);
  if (r.text === "pad-payload") p += "=".repeat((4 - (p.length % 4)) % 4 || 4);
  if (r.text === "space-payload") p = `${p.slice(0, 4)} ${p.slice(4)}`;
  if (r.text === "noncanonical-header") h = nonCanonical(h);
  if (r.text === "noncanonical-payload") p = nonCanonical(p);
  if (r.text === "plus") p = p.includes("-") ? p.replace("-", "+") : p.replace("_", "/");
  const input = `${h}.${p}`;

  let sig: Buffer;
  const headerAlg =
    typeof header.alg === "string" && (ALGS as readonly string[]).includes(header.alg)
      ? (header.alg as Alg)
      : undefined;
  const kidSigner = typeof header.kid === "string" ? BY_KID.get(header.kid) : undefined;
  switch (r.signer) {
    case "kid":
      sig = signWith((kidSigner ?? base).alg, (kidSigner ?? base).signKey, input);
      break;
    case "alg":
      sig = signWith(headerAlg ?? base.alg, SIGNERS[headerAlg ?? base.alg].signKey, input);
      break;
    case "attacker":
      sig = signWith(base.alg, ATTACKER[base.alg], input);
      break;
    case "confusion": {
      // The kid's public key (as PEM, DER and JWK x) used as an HMAC secret.
      const pub =
        (kidSigner ?? base).alg === "HS256" ? ed.publicKey : createPublicKey((kidSigner ?? base).signKey);
      sig = createHmac("sha256", pub.export({ format: "pem", type: "spki" }))
        .update(input)
        .digest();
      break;
    }
    case "none":
      sig = Buffer.alloc(0);
      break;
  }
  let sigText = b64u(sig);
  switch (r.sig) {
    case "flip":
      if (sig.length > 0) {
        const c = Buffer.from(sig);
        c[c.length >> 1]! ^= 1;
        sigText = b64u(c);
      }
      break;
    case "truncate":
      sigText = b64u(sig.subarray(0, sig.length - 1));
      break;
    case "append":
      sigText = b64u(Buffer.concat([sig, Buffer.from([0])]));
      break;
    case "pad":
      sigText += "=".repeat((4 - (sigText.length % 4)) % 4 || 4);
      break;
    case "noncanonical":
      sigText = nonCanonical(sigText);
      break;
    case "der":
      if (base.alg === "ES256" && r.signer === "kid" && kidSigner?.alg === "ES256") {
        sigText = b64u(sign("sha256", Buffer.from(input, "latin1"), kidSigner.signKey));
      }
      break;
    case "empty":
      sigText = "";
      break;
    case "tamper-payload":
      return `${h}.${b64u(toJson({ ...claims, sub: "admin" }))}.${sigText}`;
    case "dot":
      return `${input}.${sigText}.`;
  }
  return `${input}.${sigText}`;
}

// ---- the tests ---------------------------------------------------------------------------------------

beforeAll(async () => {
  ATTACKER.RS256 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  auth = await createAuth({
    issuer: ISSUER,
    audience: AUDIENCE,
    store: memoryStore(),
    clock,
    algorithm: "EdDSA",
    algorithms: [...ALGS],
    clockTolerance: TOLERANCE_S,
    maxTokenLength: MAX_TOKEN_LENGTH,
    maxStaleness: "1h",
    purgeInterval: 0,
    keys: Object.values(SIGNERS).map((s) => ({
      alg: s.alg,
      kid: s.kid,
      key: s.alg === "HS256" ? s.signKey.export() : s.signKey,
      activateAt: BASE,
    })),
  });
});
afterAll(() => auth.close());

describe("differential: our verifier against jose.jwtVerify", () => {
  it("every exception is documented in docs/errors.md, section 'Stricter than jose'", () => {
    const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Stricter than `jose`"));
    expect(section.length).toBeLessThan(doc.length);
    for (const e of Object.values(EXCEPTIONS)) expect(section).toContain(e.doc);
  });

  it("genuine tokens of all four algorithms: both accept, with the same claims", async () => {
    for (const alg of ALGS) {
      clock.set(BASE);
      const r = await compare(
        build({
          alg,
          header: [],
          claims: [],
          bytes: "none",
          text: "none",
          signer: "kid",
          sig: "none",
          at: 0,
        }),
      );
      expect(r.ours.ok).toBe(true);
      expect(r.theirs.ok).toBe(true);
    }
  });

  it("agree on the time boundaries (exp, nbf, iat around the tolerance, at fractional times)", async () => {
    const s = Math.floor(BASE / 1000);
    const offsets = [-1, -0.5, -0.0001, 0, 0.0001, 0.5, 1];
    for (const at of [0, 1, 500, 999]) {
      clock.set(BASE + at);
      for (const d of offsets) {
        for (const claim of ["exp", "nbf", "iat"] as const) {
          const edge = claim === "exp" ? s - TOLERANCE_S : s + TOLERANCE_S;
          await compare(build({ ...plain, claims: [[claim, edge + d]] }));
        }
      }
    }
  });

  it("agree on random valid and hostile tokens, except for documented reasons", async () => {
    let accepted = 0;
    let refusedByBoth = 0;
    const differed = new Set<string>();
    await fc.assert(
      fc.asyncProperty(recipe, async (r) => {
        clock.set(BASE + r.at);
        const result = await compare(build(r));
        if (result.ours.ok && result.theirs.ok) accepted++;
        else if (!result.ours.ok && !result.theirs.ok) refusedByBoth++;
        else for (const e of result.exceptions) differed.add(e);
      }),
      { numRuns: 1500 },
    );
    // The corpus is useful only if it has plenty of each kind.
    expect(accepted).toBeGreaterThan(150);
    expect(refusedByBoth).toBeGreaterThan(150);
    expect(differed.size).toBeGreaterThan(3);
  });

  const plain: Recipe = {
    alg: "EdDSA",
    header: [],
    claims: [],
    bytes: "none",
    text: "none",
    signer: "kid",
    sig: "none",
    at: 500,
  };

  /** One token per exception that really is accepted by jose and refused by us. */
  const cases: [string, () => string][] = [
    ["base64url", () => build({ ...plain, text: "pad-payload" })],
    [
      "crit",
      () =>
        build({
          ...plain,
          header: [
            ["crit", ["b64"]],
            ["b64", true],
          ],
        }),
    ],
    ["embeddedKey", () => build({ ...plain, header: [["jku", "https://attacker.test/keys"]] })],
    ["claimTypes", () => build({ ...plain, claims: [["sub", 5]] })],
    ["numericDates", () => build({ ...plain, claims: [["exp", raw("1e999")]] })],
    ["iatFuture", () => build({ ...plain, claims: [["iat", Math.floor(BASE / 1000) + 60]] })],
    ["bom", () => build({ ...plain, bytes: "bom-payload" })],
    ["tooLong", () => build({ ...plain, claims: [["custom", "x".repeat(9000)]] })],
    [
      "expToTheMillisecond",
      () => build({ ...plain, claims: [["exp", Math.floor(BASE / 1000) - TOLERANCE_S + 0.25]] }),
    ],
  ];

  it.each(cases)("the documented exception %s is real: jose accepts, we refuse", async (name, make) => {
    clock.set(BASE + 500);
    const r = await compare(make());
    expect(r.theirs.ok).toBe(true);
    expect(r.ours.ok).toBe(false);
    expect(r.exceptions).toContain(name);
  });

  it("bad UTF-8 in the header or claims is refused by both (jose decodes strictly; so do we)", async () => {
    clock.set(BASE);
    for (const bytes of ["bad-utf8-payload", "bad-utf8-header"] as const) {
      const r = await compare(build({ ...plain, bytes }));
      expect(r.ours.ok).toBe(false);
      expect(r.theirs.ok).toBe(false);
    }
  });

  it("ES256 signatures of the wrong length are refused by both (DER, truncated, extended)", async () => {
    clock.set(BASE);
    for (const sig of ["der", "truncate", "append"] as const) {
      const r = await compare(build({ ...plain, alg: "ES256", sig }));
      expect(r.ours.ok).toBe(false);
      expect(r.theirs.ok).toBe(false);
    }
  });
});
