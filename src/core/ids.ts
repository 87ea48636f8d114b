import { createHash, randomBytes } from "node:crypto";

/** A random identifier of `bytes` bytes (default 16 = 128 bits), base64url. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString("base64url");
}

/** Prefix of every refresh token, so secret scanners can recognise a leaked one. */
export const REFRESH_TOKEN_PREFIX = "jrt_";
const REFRESH_TOKEN_SHAPE = /^jrt_[A-Za-z0-9_-]{43}$/;

/** A new opaque refresh token: the prefix and 256 random bits. */
export function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Whether `value` has the shape of a refresh token (checked before hashing, so junk is cheap to refuse). */
export function isRefreshTokenShape(value: unknown): value is string {
  return typeof value === "string" && REFRESH_TOKEN_SHAPE.test(value);
}

/**
 * The value stored for a refresh token: SHA-256, base64url. A 256-bit secret needs no slow hash.
 * With `binding` (see {@link refreshTokenBinding}) the hash covers the issuer and audience too, so a
 * token is found only by an `Auth` of the same issuer and audience as the one that created it.
 */
export function hashRefreshToken(token: string, binding = ""): string {
  const h = createHash("sha256");
  if (binding !== "") h.update(binding, "utf8").update("\0", "utf8");
  return h.update(token, "utf8").digest("base64url");
}

/** What binds a refresh token to the issuer and audience that created it. */
export function refreshTokenBinding(issuer: string, audience: string): string {
  return JSON.stringify([issuer, audience]);
}
