/**
 * Property-based fuzzing of the bearer header parser (`readBearer`, src/http/bearer.ts): it never
 * throws, always answers one of its three shapes, returns a token only when the request carries
 * exactly one well-formed RFC 6750 credential, and never echoes token material in an answer.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readBearer } from "../../src/http/bearer.js";
import { FUZZ_TIMEOUT, fuzzParams } from "./fuzz-config.js";

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const TOKEN_CHARS = [..."ABCXYZabcxyz0189-._~+/"];
const NOISE = [
  ...TOKEN_CHARS,
  "=",
  " ",
  "\t",
  ",",
  ";",
  '"',
  "\\",
  "\r",
  "\n",
  "\u0000",
  "\u00e9",
  "B",
  "e",
  "a",
  "r",
];

const b64token = fc
  .tuple(fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 60 }), fc.nat(2))
  .map(([body, pad]) => body + "=".repeat(pad));
const scheme = fc.constantFrom("Bearer", "bearer", "BEARER", "bEaReR");
const spaces = fc.string({ unit: fc.constant(" "), minLength: 1, maxLength: 3 });
const noise = fc.oneof(
  fc.string({ unit: fc.constantFrom(...NOISE), maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
);
/** Header values: well-formed bearer credentials, other schemes, near misses and junk. */
const headerValue = fc.oneof(
  fc.tuple(scheme, spaces, b64token).map(([s, sp, t]) => s + sp + t),
  fc
    .tuple(fc.constantFrom("Basic", "Digest", "DPoP", "Token", "Bearerx"), spaces, noise)
    .map((p) => p.join("")),
  fc.tuple(scheme, fc.constantFrom("", " ", "\t", "  "), noise).map((p) => p.join("")),
  fc
    .tuple(scheme, spaces, b64token, fc.constantFrom(", ", ",", " , "), scheme, spaces, b64token)
    .map((p) => p.join("")),
  noise,
);
const authorization = fc.oneof(fc.constant(undefined), headerValue, fc.array(headerValue, { maxLength: 3 }));
const cookieName = fc.oneof(fc.constant(undefined), fc.constantFrom("at", "access_token", "__Host-at"));
const cookieHeader = fc.oneof(
  fc.constant(undefined),
  fc
    .array(
      fc
        .tuple(fc.constantFrom("at", "x", "access_token", " at", "at ", "xat"), fc.oneof(b64token, noise))
        .map(([n, v]) => `${n}=${v}`),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.join("; ")),
  noise,
);

describe("fuzz: readBearer", () => {
  it(
    "never throws and answers exactly one of: a token, missing, or 400 invalid_request",
    () => {
      fc.assert(
        fc.property(authorization, cookieHeader, cookieName, (auth, cookie, name) => {
          const result = readBearer({ authorization: auth, cookieHeader: cookie, cookieName: name });
          const keys = Object.keys(result);
          expect(keys).toHaveLength(1);
          if ("token" in result) {
            expect(result.token.length).toBeGreaterThan(0);
            // The token comes from the request: the header, or the named cookie.
            const sources = [...(Array.isArray(auth) ? auth : [auth ?? ""]), cookie ?? ""].join("\n");
            expect(sources).toContain(result.token);
            if (name === undefined) expect(B64TOKEN.test(result.token)).toBe(true);
          } else if ("error" in result) {
            expect(result.error.status).toBe(400);
            expect(result.error.body.error).toBe("invalid_request");
            expect(result.error.headers["www-authenticate"]).toMatch(/^Bearer error="invalid_request"/);
          } else {
            expect(result).toEqual({ missing: true });
          }
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "one well-formed Bearer credential gives exactly its token; two give 400",
    () => {
      fc.assert(
        fc.property(scheme, spaces, b64token, fc.constantFrom("", " ", "  "), (s, sp, token, pad) => {
          expect(readBearer({ authorization: `${pad}${s}${sp}${token}${pad}` })).toEqual({ token });
          expect(readBearer({ authorization: [`${s}${sp}${token}`] })).toEqual({ token });
          const two = readBearer({ authorization: [`${s} ${token}`, `${s} ${token}`] });
          expect("error" in two && two.error.status).toBe(400);
          const joined = readBearer({ authorization: `${s} ${token}, ${s} ${token}` });
          expect("error" in joined && joined.error.status).toBe(400);
          const both = readBearer({
            authorization: `${s} ${token}`,
            cookieHeader: `at=${token}`,
            cookieName: "at",
          });
          expect("error" in both && both.error.status).toBe(400);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    "never echoes a credential in an error answer",
    () => {
      fc.assert(
        fc.property(
          b64token.filter((t) => t.length >= 12),
          fc.constantFrom(" x", "!", ",", "\t"),
          (token, junk) => {
            for (const input of [
              { authorization: `Bearer ${token}${junk}` },
              { authorization: [`Bearer ${token}`, `Bearer ${token}`] },
              { authorization: `Bearer ${token}`, cookieHeader: `at=${token}x`, cookieName: "at" },
            ]) {
              const result = readBearer(input);
              if ("error" in result) expect(JSON.stringify(result)).not.toContain(token);
            }
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});
