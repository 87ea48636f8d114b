import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import * as jose from "jose";
import { ConfigInvalidError } from "./errors.js";
import type { StoredKey } from "./model.js";

/** A signing algorithm revokit supports. Each key is bound to exactly one. */
export type Algorithm = StoredKey["alg"];

/** Every supported algorithm. */
export const ALGORITHMS: readonly Algorithm[] = ["EdDSA", "ES256", "RS256", "HS256"];

/** A key ready for use: the stored record plus node:crypto KeyObjects. */
export interface KeyEntry {
  readonly kid: string;
  readonly alg: Algorithm;
  readonly createdAt: number;
  readonly activateAt: number;
  /** Private key (or HMAC secret) for signing. */
  readonly signingKey: KeyObject;
  /** Public key (or HMAC secret) for verification. */
  readonly verifyKey: KeyObject;
  /** The public JWK as published in the JWKS, `null` for HS256. */
  readonly publicJwk: Record<string, unknown> | null;
}

/**
 * A key withdrawal travels on the revocation feed as a `jti` entry whose subject is this prefix and
 * the kid (a real jti is random base64url, so it never contains `:`): every store, snapshot and
 * replica carries it without a change, and it expires when the last token the key signed does.
 */
export const KEY_WITHDRAWAL_PREFIX = "key:";

/** The feed subject that withdraws `kid`. */
export function keyWithdrawalSubject(kid: string): string {
  return `${KEY_WITHDRAWAL_PREFIX}${kid}`;
}

/** The kid a feed subject withdraws, or `undefined` when it is an ordinary jti. */
export function withdrawnKid(subject: string): string | undefined {
  return subject.startsWith(KEY_WITHDRAWAL_PREFIX) ? subject.slice(KEY_WITHDRAWAL_PREFIX.length) : undefined;
}

/** Whether `value` is one of {@link ALGORITHMS}. */
export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === "string" && (ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Generates a new key for `alg`: Ed25519 for EdDSA, P-256 for ES256, 2048-bit RSA for RS256, 256
 * random bits for HS256. The kid is the RFC 7638 thumbprint for public keys and random for secrets.
 */
export async function generateKey(alg: Algorithm, now: number, activateAt = now): Promise<StoredKey> {
  if (alg === "HS256") {
    const secret = randomBytes(32);
    return {
      kid: `hs-${randomBytes(9).toString("base64url")}`,
      alg,
      privateJwk: { kty: "oct", k: secret.toString("base64url") },
      publicJwk: null,
      createdAt: now,
      activateAt,
    };
  }
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, {
    extractable: true,
    modulusLength: 2048,
  });
  return storedFromJwks(
    alg,
    await jose.exportJWK(privateKey),
    await jose.exportJWK(publicKey),
    now,
    activateAt,
  );
}

/** Key material a user may hand to `createAuth({ keys })`. */
export interface KeyInput {
  alg: Algorithm;
  /** Private key (KeyObject, PKCS#8 PEM or JWK), or for HS256 a secret of at least 32 bytes. */
  key: KeyObject | string | Uint8Array | Record<string, unknown>;
  /** Optional kid; defaults to the JWK thumbprint (public keys) or a hash-free random id (secrets). */
  kid?: string;
  /** From when to sign with it; defaults to now. */
  activateAt?: number;
}

/** Imports user-supplied key material as a {@link StoredKey}, checking it fits its algorithm. */
export async function importKey(input: KeyInput, now: number): Promise<StoredKey> {
  if (!isAlgorithm(input.alg))
    throw new ConfigInvalidError("keys", `unsupported algorithm ${String(input.alg)}`);
  let privateKey: KeyObject;
  try {
    if (input.alg === "HS256") {
      const raw =
        typeof input.key === "string"
          ? Buffer.from(input.key, "utf8")
          : input.key instanceof Uint8Array
            ? Buffer.from(input.key)
            : undefined;
      privateKey = raw ? createSecretKey(raw) : toKeyObject(input.key, true);
    } else {
      privateKey = toKeyObject(input.key, true);
    }
  } catch (cause) {
    throw new ConfigInvalidError("keys", `cannot import the ${input.alg} key: ${(cause as Error).message}`);
  }
  const privateJwk = privateKey.export({ format: "jwk" }) as Record<string, unknown>;
  const publicJwk =
    input.alg === "HS256"
      ? null
      : (createPublicKey(privateKey).export({ format: "jwk" }) as Record<string, unknown>);
  const stored = await storedFromJwks(input.alg, privateJwk, publicJwk, now, input.activateAt ?? now);
  if (input.kid !== undefined) {
    if (typeof input.kid !== "string" || input.kid.length === 0 || input.kid.length > 128) {
      throw new ConfigInvalidError("keys", "kid must be a string of 1 to 128 characters");
    }
    stored.kid = input.kid;
  }
  loadKey(stored); // validates the key fits its algorithm
  return stored;
}

function toKeyObject(key: KeyInput["key"], isPrivate: boolean): KeyObject {
  if (typeof key === "object" && key !== null && "asymmetricKeyType" in key) return key as KeyObject;
  if (typeof key === "object" && key !== null && "type" in key && (key as KeyObject).type === "secret")
    return key as KeyObject;
  if (typeof key === "string") return isPrivate ? createPrivateKey(key) : createPublicKey(key);
  const jwk = key as jose.JWK;
  if (jwk.kty === "oct") return createSecretKey(Buffer.from(String(jwk.k ?? ""), "base64url"));
  return isPrivate
    ? createPrivateKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" })
    : createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
}

async function storedFromJwks(
  alg: Algorithm,
  privateJwk: Record<string, unknown>,
  publicJwk: Record<string, unknown> | null,
  now: number,
  activateAt: number,
): Promise<StoredKey> {
  const kid =
    publicJwk === null
      ? `hs-${randomBytes(9).toString("base64url")}`
      : await jose.calculateJwkThumbprint(publicJwk as jose.JWK, "sha256");
  const pub = publicJwk === null ? null : { ...publicJwk, kid, alg, use: "sig" };
  return { kid, alg, privateJwk: { ...privateJwk }, publicJwk: pub, createdAt: now, activateAt };
}

/**
 * Turns a stored key into KeyObjects, checking that the key fits its algorithm (Ed25519 for EdDSA,
 * P-256 for ES256, RSA of at least 2048 bits for RS256, a secret of at least 32 bytes for HS256).
 * Throws `ConfigInvalidError` otherwise.
 */
export function loadKey(stored: StoredKey): KeyEntry {
  const { alg } = stored;
  if (!isAlgorithm(alg))
    throw new ConfigInvalidError("keys", `stored key ${stored.kid} has an unsupported algorithm`);
  let signingKey: KeyObject;
  let verifyKey: KeyObject;
  try {
    if (alg === "HS256") {
      if (stored.privateJwk.kty !== "oct") throw new Error("an HS256 key must be a secret (kty oct)");
      signingKey = createSecretKey(Buffer.from(String(stored.privateJwk.k ?? ""), "base64url"));
      verifyKey = signingKey;
    } else {
      signingKey = createPrivateKey({
        key: stored.privateJwk as import("node:crypto").JsonWebKey,
        format: "jwk",
      });
      verifyKey = createPublicKey(signingKey);
    }
  } catch (cause) {
    throw new ConfigInvalidError("keys", `key ${stored.kid} cannot be loaded: ${(cause as Error).message}`);
  }
  const details = verifyKey.asymmetricKeyDetails;
  const ok =
    alg === "HS256"
      ? verifyKey.type === "secret" && (verifyKey.symmetricKeySize ?? 0) >= 32
      : alg === "EdDSA"
        ? verifyKey.asymmetricKeyType === "ed25519"
        : alg === "ES256"
          ? verifyKey.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1"
          : verifyKey.asymmetricKeyType === "rsa" && (details?.modulusLength ?? 0) >= 2048;
  if (!ok) throw new ConfigInvalidError("keys", `key ${stored.kid} does not fit algorithm ${alg}`);
  return {
    kid: stored.kid,
    alg,
    createdAt: stored.createdAt,
    activateAt: stored.activateAt,
    signingKey,
    verifyKey,
    publicJwk: stored.publicJwk,
  };
}

/**
 * The keys one node knows, with the rotation rules: a node signs with the newest key of its algorithm
 * whose `activateAt` has come; a key superseded by a newer active key is kept for verification for
 * `retentionMs` after its successor activated (long enough for every token it signed to expire), then dropped.
 */
export class KeyRing {
  readonly #byKid = new Map<string, KeyEntry>();
  readonly #entries: KeyEntry[];
  readonly #rank = new Map<KeyEntry, number>();

  /** `entries` oldest first, as `Store.listKeys` returns them; that order breaks ties in time. */
  constructor(entries: readonly KeyEntry[]) {
    this.#entries = [...entries].sort((a, b) => a.activateAt - b.activateAt || a.createdAt - b.createdAt);
    this.#entries.forEach((e, i) => {
      this.#byKid.set(e.kid, e);
      this.#rank.set(e, i);
    });
  }

  /** The key with this kid, if known. */
  get(kid: string): KeyEntry | undefined {
    return this.#byKid.get(kid);
  }

  /** Every key, oldest activation first. */
  get entries(): readonly KeyEntry[] {
    return this.#entries;
  }

  /** The key to sign with now, or `undefined` when no key of `alg` is active yet. */
  signingKey(alg: Algorithm, now: number): KeyEntry | undefined {
    let best: KeyEntry | undefined;
    for (const e of this.#entries) if (e.alg === alg && e.activateAt <= now) best = e;
    return best;
  }

  /** When the key stops being needed (its successor's activation plus retention), or `Infinity`. */
  retiredUntil(entry: KeyEntry, now: number, retentionMs: number): number {
    for (const e of this.#entries) {
      if (
        e.alg === entry.alg &&
        e.activateAt <= now &&
        (this.#rank.get(e) ?? 0) > (this.#rank.get(entry) ?? 0)
      ) {
        return e.activateAt + retentionMs;
      }
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Keys whose retention has passed: safe to delete. */
  expired(now: number, retentionMs: number): KeyEntry[] {
    return this.#entries.filter((e) => this.retiredUntil(e, now, retentionMs) <= now);
  }

  /** The public JWKS: every asymmetric key not yet dropped, including keys published ahead of activation. */
  jwks(now: number, retentionMs: number): { keys: Record<string, unknown>[] } {
    const keys: Record<string, unknown>[] = [];
    for (const e of this.#entries) {
      if (e.publicJwk && this.retiredUntil(e, now, retentionMs) > now) keys.push({ ...e.publicJwk });
    }
    return { keys };
  }
}
