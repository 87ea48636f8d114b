import { createPublicKey, type KeyObject } from "node:crypto";
import { type Algorithm, isAlgorithm, type KeyEntry } from "../core/keys.js";

/**
 * The verification keys of a published JWKS: each key bound to the one algorithm its `alg` names
 * (a key without `alg`, or whose type does not fit it, is skipped), with its `kid`. Secrets (`oct`)
 * are never taken from a JWKS.
 */
export function keysFromJwks(jwks: unknown, accepted: ReadonlySet<Algorithm>): KeyEntry[] {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new TypeError("the JWKS has no keys array");
  const out: KeyEntry[] = [];
  for (const jwk of list as Record<string, unknown>[]) {
    if (typeof jwk !== "object" || jwk === null) continue;
    const { kid, alg, use } = jwk;
    if (typeof kid !== "string" || kid.length === 0 || !isAlgorithm(alg) || alg === "HS256") continue;
    if (!accepted.has(alg) || (use !== undefined && use !== "sig")) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    } catch {
      continue;
    }
    if (!fits(key, alg)) continue;
    out.push({ kid, alg, createdAt: 0, activateAt: 0, signingKey: key, verifyKey: key, publicJwk: jwk });
  }
  return out;
}

function fits(key: KeyObject, alg: Algorithm): boolean {
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case "EdDSA":
      return key.asymmetricKeyType === "ed25519";
    case "ES256":
      return key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1";
    case "RS256":
      return key.asymmetricKeyType === "rsa" && (details?.modulusLength ?? 0) >= 2048;
    default:
      return false;
  }
}
