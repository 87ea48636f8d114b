import { createHmac, timingSafeEqual, verify as cryptoVerify } from "node:crypto";
import { decodeBase64urlStrict } from "./base64url.js";
import { TokenInvalidError } from "./errors.js";
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
 * Verifies a compact JWS synchronously on node:crypto and returns its header and payload. The
 * signature is checked before the payload is parsed. Rejects, with `TokenInvalidError` and a
 * `reason`: non-strings, oversized input, anything but three strict base64url parts, `alg` outside the
 * allowlist (so `none` in any spelling), a key whose algorithm differs from `alg`, unknown `kid`,
 * `crit`, embedded keys (`jwk`, `jku`, `x5u`, `x5c`), a wrong `typ`, and bad signatures.
 */
export function verifyCompactJws(token: unknown, options: JwsVerifyOptions): VerifiedJws {
  if (typeof token !== "string") throw new TokenInvalidError("malformed");
  if (token.length > options.maxLength) throw new TokenInvalidError("too_long");
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf(".", dot2 + 1) !== -1) {
    throw new TokenInvalidError("malformed");
  }
  const headerBytes = decodeBase64urlStrict(token.slice(0, dot1));
  const header = headerBytes && parseObject(headerBytes);
  if (!header) throw new TokenInvalidError("malformed");

  const alg = header.alg;
  if (typeof alg !== "string" || !options.algorithms.has(alg as Algorithm)) throw new TokenInvalidError("alg");
  if (header.crit !== undefined) throw new TokenInvalidError("crit");
  for (const name of EMBEDDED_KEY_HEADERS) {
    if (header[name] !== undefined) throw new TokenInvalidError("embedded_key");
  }
  if (!typMatches(header.typ, options.typ)) throw new TokenInvalidError("typ");
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256) throw new TokenInvalidError("kid");
  const key = options.key(kid);
  if (!key) throw new TokenInvalidError("kid");
  // The key decides the algorithm; the header must agree (no algorithm/key confusion).
  if (key.alg !== alg) throw new TokenInvalidError("alg");

  const signature = dot2 === token.length - 1 ? undefined : decodeBase64urlStrict(token.slice(dot2 + 1));
  if (!signature) throw new TokenInvalidError("malformed");
  const signingInput = Buffer.from(token.slice(0, dot2), "latin1");
  if (!checkSignature(key, signingInput, signature)) throw new TokenInvalidError("signature");

  const payloadBytes = decodeBase64urlStrict(token.slice(dot1 + 1, dot2));
  const payload = payloadBytes && parseObject(payloadBytes);
  if (!payload) throw new TokenInvalidError("malformed");
  return { header, payload };
}

function checkSignature(key: KeyEntry, data: Buffer, signature: Buffer): boolean {
  switch (key.alg) {
    case "HS256": {
      if (signature.length !== 32) return false;
      const mac = createHmac("sha256", key.verifyKey).update(data).digest();
      return timingSafeEqual(mac, signature);
    }
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
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function typMatches(typ: unknown, expected: string): boolean {
  if (typeof typ !== "string") return false;
  const t = typ.toLowerCase();
  return t === expected || t === `application/${expected}`;
}
