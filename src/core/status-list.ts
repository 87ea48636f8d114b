/**
 * Token Status List (IETF draft-ietf-oauth-status-list): a bit array with one bit per token (0 valid,
 * 1 revoked), compressed with DEFLATE in the ZLIB format and base64url-encoded, inside a Status List
 * Token. Pure: no I/O, the time is passed in.
 */
import { deflateSync } from "node:zlib";

/** The `typ` of a Status List Token, and (with `application/`) its media type. */
export const STATUS_LIST_TYP = "statuslist+jwt";
export const STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt";

/**
 * A growable array of 1-bit statuses, packed as the draft says: the status of index `i` is bit
 * `i % 8` of byte `i >> 3`, counting from the least significant bit.
 */
export class StatusBits {
  #bytes: Uint8Array;
  #length = 0;

  constructor(capacity = 1024) {
    this.#bytes = new Uint8Array(Math.max(1, Math.ceil(capacity / 8)));
  }

  /** Number of indices covered (the highest set or cleared index plus one). */
  get length(): number {
    return this.#length;
  }

  /** Sets the status of `index` (1 revoked, 0 valid). */
  set(index: number, revoked: boolean): void {
    if (!Number.isInteger(index) || index < 0) throw new RangeError("index must be a non-negative integer");
    const byte = index >> 3;
    if (byte >= this.#bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bytes.length * 2));
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    if (revoked) this.#bytes[byte] = (this.#bytes[byte] as number) | (1 << (index & 7));
    else this.#bytes[byte] = (this.#bytes[byte] as number) & ~(1 << (index & 7));
    if (index >= this.#length) this.#length = index + 1;
  }

  /** The status of `index` (indices past the end are valid). */
  get(index: number): boolean {
    const byte = this.#bytes[index >> 3];
    return byte !== undefined && (byte & (1 << (index & 7))) !== 0;
  }

  /** The packed bytes covering {@link length} indices. */
  bytes(): Uint8Array {
    return this.#bytes.subarray(0, Math.max(1, Math.ceil(this.#length / 8)));
  }
}

/** `lst`: the packed bits, DEFLATE-compressed with the ZLIB header (RFC 1950), base64url. */
export function encodeStatusList(bits: StatusBits): string {
  return deflateSync(bits.bytes(), { level: 9 }).toString("base64url");
}

/** The claims of a Status List Token: `sub` (its own URI), `iat`, `exp`, `ttl` (seconds) and `status_list`. */
export function statusListClaims(options: {
  uri: string;
  lst: string;
  now: number;
  ttlSec: number;
  lifetimeSec: number;
}): Record<string, unknown> {
  const iat = Math.floor(options.now / 1000);
  return {
    sub: options.uri,
    iat,
    exp: iat + options.lifetimeSec,
    ttl: options.ttlSec,
    status_list: { bits: 1, lst: options.lst },
  };
}

/** The `status` claim of an access token whose status is at `idx` in the list at `uri`. */
export function statusClaim(idx: number, uri: string): { status_list: { idx: number; uri: string } } {
  return { status_list: { idx, uri } };
}

/**
 * Which list a token issued at `iatMs` goes to: lists are cut by time, `windowMs` each, so a list
 * stops growing when its window ends and is dropped once every token in it has expired.
 */
export function statusListFor(iatMs: number, windowMs: number): number {
  return Math.floor(iatMs / windowMs);
}
