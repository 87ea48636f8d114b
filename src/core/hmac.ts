import type { KeyObject } from "node:crypto";
import * as crypto from "node:crypto";

/** SHA-256's block size: the key is padded (or first hashed) to this many bytes (RFC 2104 §2). */
export const HMAC_BLOCK = 64;

/** `crypto.hash` (one call, no Hash object): Node 20.12 and newer; older Node falls back to `createHmac`. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "buffer") => Buffer })
  .hash;

/**
 * HMAC-SHA-256 (RFC 2104) for one secret key: `H((K ^ opad) || H((K ^ ipad) || message))`, on two
 * one-shot SHA-256 calls, which on a token-sized message cost about three quarters of
 * `createHmac(...).update(...).digest()` (the object and its stream machinery are what is saved).
 * The caller writes the message right after {@link HMAC_BLOCK} free bytes and passes the whole
 * buffer: the inner pad is copied into them, so no message bytes are copied. Same results as
 * `createHmac("sha256", key)`, checked by a differential test. Not re-entrant (one buffer serves every
 * call), which synchronous verification never is.
 */
export class HmacSha256 {
  readonly #key: KeyObject;
  /** `K ^ ipad`, {@link HMAC_BLOCK} bytes; `undefined` where `crypto.hash` is missing. */
  readonly #inner: Buffer | undefined;
  /** `K ^ opad` then room for the inner digest. */
  readonly #outer: Buffer | undefined;

  private constructor(key: KeyObject) {
    this.#key = key;
    if (oneShot === undefined) return;
    let k = key.export();
    if (k.length > HMAC_BLOCK) k = crypto.createHash("sha256").update(k).digest();
    this.#inner = Buffer.alloc(HMAC_BLOCK, 0x36);
    this.#outer = Buffer.alloc(HMAC_BLOCK + 32, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.#inner[i]! ^= k[i]!;
      this.#outer[i]! ^= k[i]!;
    }
    k.fill(0);
  }

  static readonly #byKey = new WeakMap<KeyObject, HmacSha256>();

  /** The instance for a secret `KeyObject` (made once per key object). */
  static for(key: KeyObject): HmacSha256 {
    let h = HmacSha256.#byKey.get(key);
    if (h === undefined) {
      h = new HmacSha256(key);
      HmacSha256.#byKey.set(key, h);
    }
    return h;
  }

  /**
   * The MAC of `buffer.subarray(HMAC_BLOCK)`; the first {@link HMAC_BLOCK} bytes of `buffer` are
   * overwritten. The result is valid until the next call on this instance.
   */
  macAfterBlock(buffer: Buffer): Buffer {
    const inner = this.#inner;
    const outer = this.#outer;
    if (oneShot === undefined || inner === undefined || outer === undefined) {
      return crypto.createHmac("sha256", this.#key).update(buffer.subarray(HMAC_BLOCK)).digest();
    }
    inner.copy(buffer, 0);
    outer.set(oneShot("sha256", buffer, "buffer"), HMAC_BLOCK);
    return oneShot("sha256", outer, "buffer");
  }
}
