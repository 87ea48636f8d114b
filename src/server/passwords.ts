import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";

/** `Algorithm.Argon2id` of @node-rs/argon2 (a `const enum`, which isolated modules cannot import). */
const ARGON2ID = 2;

/** scrypt cost parameters (for older hashes, and for deployments that choose scrypt). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

/** argon2id cost parameters. */
export interface Argon2Params {
  /** Memory, KiB. */
  memoryKiB: number;
  /** Passes over the memory. */
  timeCost: number;
  /** Lanes. */
  parallelism: number;
}

/**
 * How new password hashes are made: argon2id (the default) or scrypt. Hashes made with other
 * parameters, or with the other algorithm, still verify, and are rewritten at the next successful login.
 */
export type PasswordPolicy =
  | { algorithm: "argon2id"; params: Argon2Params }
  | { algorithm: "scrypt"; params: ScryptParams };

/** OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1 (about 50 to 100 ms on one core). */
export const DEFAULT_ARGON2: Argon2Params = { memoryKiB: 19 * 1024, timeCost: 2, parallelism: 1 };

/** OWASP's minimum for scrypt: N = 2^17, r = 8, p = 1 (128 MiB). Used only when scrypt is chosen. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

/** The default policy: argon2id at {@link DEFAULT_ARGON2}. */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { algorithm: "argon2id", params: DEFAULT_ARGON2 };

const KEY_LENGTH = 32;
const SALT_BYTES = 16;
/** Bounds on parameters read back from the store, so a tampered row cannot exhaust memory or CPU. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_ARGON2_MEMORY_KIB = 1024 * 1024;
const MAX_ARGON2_TIME = 20;
const MAX_ARGON2_LANES = 16;

function derive(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // scrypt needs 128 * N * r bytes; node refuses more than `maxmem` (default 32 MiB).
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize("NFKC"), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function policyOf(params: ScryptParams | PasswordPolicy): PasswordPolicy {
  return "algorithm" in params ? params : { algorithm: "scrypt", params };
}

/**
 * Hashes a password with a random salt, on the libuv thread pool (the event loop is not blocked).
 * argon2id gives the PHC string `$argon2id$v=19$m=...,t=...,p=...$salt$hash`; scrypt gives
 * `scrypt$N$r$p$salt$hash` (base64url). The input is NFKC-normalized first, so the same password
 * typed on two keyboards matches.
 * @example
 * const encoded = await hashSecret("correct horse battery staple"); // argon2id, m=19 MiB, t=2, p=1
 */
export async function hashSecret(
  secret: string,
  policy: PasswordPolicy | ScryptParams = DEFAULT_PASSWORD_POLICY,
): Promise<string> {
  const p = policyOf(policy);
  if (p.algorithm === "argon2id") {
    return argon2Hash(secret.normalize("NFKC"), {
      algorithm: ARGON2ID,
      memoryCost: p.params.memoryKiB,
      timeCost: p.params.timeCost,
      parallelism: p.params.parallelism,
      salt: randomBytes(SALT_BYTES),
      outputLen: KEY_LENGTH,
    });
  }
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, p.params);
  return `scrypt$${p.params.N}$${p.params.r}$${p.params.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** A parsed `scrypt$...` encoding, or `null` when it is not one we can check. */
function decodeScrypt(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | null {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every(Number.isSafeInteger)) return null;
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  const salt = Buffer.from(parts[4] as string, "base64url");
  const hash = Buffer.from(parts[5] as string, "base64url");
  if (salt.length < 8 || hash.length !== KEY_LENGTH) return null;
  return { params: { N, r, p }, salt, hash };
}

/** The parameters of an argon2id PHC string, or `null` when it is not one we agree to check. */
function decodeArgon2(encoded: string): Argon2Params | null {
  const match = /^\$argon2id\$v=19\$([a-z0-9=,]{1,40})\$[A-Za-z0-9+/]{11,64}\$[A-Za-z0-9+/]{22,128}$/.exec(
    encoded,
  );
  if (!match) return null;
  const params = new Map<string, number>();
  for (const pair of (match[1] as string).split(",")) {
    const [name, value] = pair.split("=");
    if (name === undefined || value === undefined || !/^\d{1,8}$/.test(value) || params.has(name))
      return null;
    params.set(name, Number(value));
  }
  const memoryKiB = params.get("m");
  const timeCost = params.get("t");
  const parallelism = params.get("p");
  if (params.size !== 3 || memoryKiB === undefined || timeCost === undefined || parallelism === undefined)
    return null;
  if (parallelism < 1 || parallelism > MAX_ARGON2_LANES || timeCost < 1 || timeCost > MAX_ARGON2_TIME)
    return null;
  if (memoryKiB < 8 * parallelism || memoryKiB > MAX_ARGON2_MEMORY_KIB) return null;
  return { memoryKiB, timeCost, parallelism };
}

function weaker(encoded: string, policy: PasswordPolicy): boolean {
  if (policy.algorithm === "argon2id") {
    const a = decodeArgon2(encoded);
    if (!a) return true; // scrypt (or unknown): move to argon2id
    const want = policy.params;
    return a.memoryKiB < want.memoryKiB || a.timeCost < want.timeCost || a.parallelism < want.parallelism;
  }
  const s = decodeScrypt(encoded);
  if (!s) return true;
  const want = policy.params;
  return s.params.N < want.N || s.params.r < want.r || s.params.p < want.p;
}

/**
 * Checks `secret` against an encoding from {@link hashSecret} (argon2id or scrypt) in constant time.
 * An encoding that cannot be parsed, or whose parameters are out of bounds, never matches (and
 * costs one hash at `policy`, like a real check). `rehash` tells whether the encoding is weaker than
 * `policy` (or of the other algorithm), so the caller can upgrade it after a successful check.
 */
export async function verifySecret(
  secret: string,
  encoded: string,
  policy: PasswordPolicy | ScryptParams = DEFAULT_PASSWORD_POLICY,
): Promise<{ ok: boolean; rehash: boolean }> {
  const p = policyOf(policy);
  let ok: boolean;
  if (decodeArgon2(encoded)) {
    try {
      ok = await argon2Verify(encoded, secret.normalize("NFKC"));
    } catch {
      ok = false;
    }
  } else {
    const parsed = decodeScrypt(encoded);
    if (!parsed) {
      await hashSecret(secret, p); // same cost as a real check
      return { ok: false, rehash: false };
    }
    const actual = await derive(secret, parsed.salt, parsed.params);
    ok = timingSafeEqual(actual, parsed.hash);
  }
  return { ok, rehash: ok && weaker(encoded, p) };
}

/**
 * A hash of a random password, checked when a username is unknown so that the answer takes as long
 * as for a known user (no user enumeration by timing).
 */
export class DummyHash {
  #encoded: Promise<string> | undefined;
  readonly #policy: PasswordPolicy;

  /** `policy` must be the one real hashes use, so the timing matches. */
  constructor(policy: PasswordPolicy | ScryptParams = DEFAULT_PASSWORD_POLICY) {
    this.#policy = policyOf(policy);
  }

  /** Runs a full check that never succeeds. */
  async burn(secret: string): Promise<void> {
    this.#encoded ??= hashSecret(randomBytes(24).toString("base64url"), this.#policy);
    await verifySecret(secret, await this.#encoded, this.#policy);
  }
}

/** Turns the server's `scrypt` / `passwordHashing` options into one policy. */
export function passwordPolicy(options: {
  passwordHashing?: PasswordPolicy;
  scrypt?: ScryptParams;
}): PasswordPolicy {
  if (options.passwordHashing) return options.passwordHashing;
  if (options.scrypt) return { algorithm: "scrypt", params: options.scrypt };
  return DEFAULT_PASSWORD_POLICY;
}
