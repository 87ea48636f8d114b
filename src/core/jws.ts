import { isUtf8 } from "node:buffer";
import { verify as cryptoVerify, timingSafeEqual } from "node:crypto";
import { decodeBase64urlAscii, decodeBase64urlStrict } from "./base64url.js";
import { TokenInvalidError } from "./errors.js";
import { HMAC_BLOCK, HmacSha256 } from "./hmac.js";
import type { Algorithm, KeyEntry } from "./keys.js";

/** Header parameters that carry or point to a key; a token must never choose its own key (RFC 8725 §3.10). */
const EMBEDDED_KEY_HEADERS = ["jwk", "jku", "x5u", "x5c"] as const;

/** Options of {@link verifyCompactJws}. */
export interface JwsVerifyOptions {
  /** The exact set of algorithms accepted. */
  algorithms: ReadonlySet<Algorithm>;
  /** Looks a key up by kid. */
  key: (kid: string) => KeyEntry | undefined;
  /** Longest token accepted, in characters. */
  maxLength: number;
  /** Required `typ` (compared case-insensitively, with or without the `application/` prefix). */
  typ: string;
}

/** A verified JWS: its header and its payload parsed as a JSON object. */
export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/**
 * Recently parsed headers and their base64url text, newest first: every token signed by one key has
 * the same header, so one comparison with `startsWith` usually replaces decoding and parsing it.
 */
const recentHeaders: RecentHeader[] = [];

interface RecentHeader {
  text: string;
  header: Record<string, unknown>;
  /** The options whose header checks this header passed (they are the same on every call of an Auth). */
  checkedFor: JwsVerifyOptions | undefined;
}
const RECENT_HEADERS = 4;
const RECENT_HEADER_TEXT = 512;

/**
 * Where the signing input is written, after {@link HMAC_BLOCK} bytes that HMAC-SHA-256 uses for its
 * inner pad (verification is synchronous, so one buffer serves every call).
 */
let scratch = Buffer.allocUnsafeSlow(HMAC_BLOCK + 8192);

/**
 * Verifies a compact JWS synchronously on node:crypto and returns its header and payload. The
 * signature is checked before the payload is parsed. Rejects, with `TokenInvalidError` and a
 * `reason`: non-strings, oversized input, anything but three strict base64url parts, ill-formed
 * UTF-8 or JSON, `alg` outside the allowlist (so `none` in any spelling), a key whose algorithm
 * differs from `alg`, unknown `kid`, `crit`, embedded keys (`jwk`, `jku`, `x5u`, `x5c`), a wrong
 * `typ`, and bad signatures. The returned header may be frozen and shared between calls.
 */
export function verifyCompactJws(token: unknown, options: JwsVerifyOptions): VerifiedJws {
  if (typeof token !== "string") throw new TokenInvalidError("malformed");
  if (token.length > options.maxLength) throw new TokenInvalidError("too_long");
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf(".", dot2 + 1) !== -1) {
    throw new TokenInvalidError("malformed");
  }
  let recent: RecentHeader | undefined;
  if (recentHeaders.length > 0) {
    // One slice compared by `===` (a memory comparison) is cheaper than `startsWith` on each entry.
    const text = token.slice(0, dot1);
    for (const r of recentHeaders) {
      if (r.text === text) {
        recent = r;
        break;
      }
    }
  }
  let header = recent?.header;
  if (header === undefined) {
    const headerBytes = decodeBase64urlStrict(token.slice(0, dot1));
    header = headerBytes && parseObject(headerBytes);
    if (!header) throw new TokenInvalidError("malformed");
  }
  if (recent?.checkedFor !== options) checkHeader(header, options);
  const key = options.key(header.kid as string);
  if (!key) throw new TokenInvalidError("kid");
  // The key decides the algorithm; the header must agree (no algorithm/key confusion).
  if (key.alg !== header.alg) throw new TokenInvalidError("alg");
  if (recent) {
    recent.checkedFor = options;
  } else if (dot1 <= RECENT_HEADER_TEXT) {
    // Only a header that passed the checks is remembered, with the options it passed them for.
    // A copy, not a slice: a slice would keep the whole first token alive and compare more slowly.
    const text = Buffer.from(token.slice(0, dot1), "latin1").toString("latin1");
    recentHeaders.unshift({ text, header: Object.freeze(header), checkedFor: options });
    if (recentHeaders.length > RECENT_HEADERS) recentHeaders.pop();
  }

  // The payload and signature are strict base64url before the signature is checked: the signing
  // input is written as latin1, which is the token's exact bytes only for ASCII (one UTF-8 byte a
  // character), and the strict decoding refuses whatever ASCII is not base64url.
  if (Buffer.byteLength(token, "utf8") !== token.length) throw new TokenInvalidError("malformed");
  const signature = decodeBase64urlAscii(token.slice(dot2 + 1));
  const payloadBytes = decodeBase64urlAscii(token.slice(dot1 + 1, dot2));
  if (!signature || signature.length === 0 || !payloadBytes) throw new TokenInvalidError("malformed");
  if (scratch.length < HMAC_BLOCK + dot2)
    scratch = Buffer.allocUnsafeSlow(Math.max(HMAC_BLOCK + dot2, 2 * scratch.length));
  scratch.write(token, HMAC_BLOCK, dot2, "latin1");
  if (!checkSignature(key, dot2, signature)) throw new TokenInvalidError("signature");

  const payload = parseObject(payloadBytes);
  if (!payload) throw new TokenInvalidError("malformed");
  return { header, payload };
}

/** The checks of a header that depend on nothing but the header and the options. */
function checkHeader(header: Record<string, unknown>, options: JwsVerifyOptions): void {
  const alg = header.alg;
  if (typeof alg !== "string" || !options.algorithms.has(alg as Algorithm))
    throw new TokenInvalidError("alg");
  if (header.crit !== undefined) throw new TokenInvalidError("crit");
  for (const name of EMBEDDED_KEY_HEADERS) {
    if (header[name] !== undefined) throw new TokenInvalidError("embedded_key");
  }
  if (!typMatches(header.typ, options.typ)) throw new TokenInvalidError("typ");
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256) throw new TokenInvalidError("kid");
}

/** Checks `signature` over the `length` bytes of signing input at `scratch[HMAC_BLOCK..]`. */
function checkSignature(key: KeyEntry, length: number, signature: Buffer): boolean {
  if (key.alg === "HS256") {
    if (signature.length !== 32) return false;
    const mac = HmacSha256.for(key.verifyKey).macAfterBlock(scratch.subarray(0, HMAC_BLOCK + length));
    return timingSafeEqual(mac, signature);
  }
  const data = scratch.subarray(HMAC_BLOCK, HMAC_BLOCK + length);
  switch (key.alg) {
    case "EdDSA":
      return signature.length === 64 && cryptoVerify(null, data, key.verifyKey, signature);
    case "ES256":
      return (
        signature.length === 64 &&
        cryptoVerify("sha256", data, { key: key.verifyKey, dsaEncoding: "ieee-p1363" }, signature)
      );
    case "RS256":
      return cryptoVerify("sha256", data, key.verifyKey, signature);
  }
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  const text = bytes.toString("utf8");
  // Ill-formed UTF-8 is refused, not replaced (as by jose's fatal TextDecoder); only a text that
  // contains U+FFFD can have had a replacement, so only then is the (slower) full check needed.
  if (text.includes("\uFFFD") && !isUtf8(bytes)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function typMatches(typ: unknown, expected: string): boolean {
  if (typ === expected) return true;
  if (typeof typ !== "string") return false;
  const t = typ.toLowerCase();
  return t === expected || t === `application/${expected}`;
}
