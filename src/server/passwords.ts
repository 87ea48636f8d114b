import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

/** Default cost: N=2^15, r=8, p=1 (32 MiB, some tens of milliseconds), the OWASP recommendation for scrypt. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_BYTES = 16;
/** Bounds on parameters read back from the store, so a tampered row cannot exhaust memory or CPU. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize("NFKC"), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password or client secret with scrypt and a random salt, encoded as
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url). The input is NFKC-normalized first, so the
 * same password typed on two keyboards matches.
 */
export async function hashSecret(secret: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** A parsed `scrypt$...` encoding, or `null` when it is not one we can check. */
function decode(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | null {
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

/**
 * Checks `secret` against an encoding from {@link hashSecret} in constant time. An encoding that
 * cannot be parsed never matches. `rehash` tells whether the encoding uses weaker parameters than
 * `params`, so the caller can upgrade it after a successful check.
 */
export async function verifySecret(
  secret: string,
  encoded: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<{ ok: boolean; rehash: boolean }> {
  const parsed = decode(encoded);
  if (!parsed) {
    await derive(secret, randomBytes(SALT_BYTES), params); // same cost as a real check
    return { ok: false, rehash: false };
  }
  const actual = await derive(secret, parsed.salt, parsed.params);
  const ok = timingSafeEqual(actual, parsed.hash);
  const weaker = parsed.params.N < params.N || parsed.params.r < params.r || parsed.params.p < params.p;
  return { ok, rehash: ok && weaker };
}

/**
 * A hash of a random password, checked when a username is unknown so that the answer takes as long
 * as for a known user (no user enumeration by timing).
 */
export class DummyHash {
  #encoded: Promise<string> | undefined;
  readonly #params: ScryptParams;

  /** `params` must be those real hashes use, so the timing matches. */
  constructor(params: ScryptParams = DEFAULT_SCRYPT) {
    this.#params = params;
  }

  /** Runs a full check that never succeeds. */
  async burn(secret: string): Promise<void> {
    this.#encoded ??= hashSecret(randomBytes(24).toString("base64url"), this.#params);
    await verifySecret(secret, await this.#encoded, this.#params);
  }
}
