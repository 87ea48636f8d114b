import { createHmac, createSecretKey } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HMAC_BLOCK, HmacSha256 } from "../../src/core/hmac.js";

/** The message after HMAC_BLOCK bytes of anything, as the verifier lays it out. */
function laidOut(message: Uint8Array, filler: number): Buffer {
  const b = Buffer.alloc(HMAC_BLOCK + message.length, filler);
  b.set(message, HMAC_BLOCK);
  return b;
}

describe("HmacSha256 (RFC 2104 on one-shot SHA-256)", () => {
  it("equals createHmac for keys shorter than, equal to and longer than the block, any message", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 0, max: 255 }),
        (key, message, filler) => {
          const k = createSecretKey(Buffer.from(key));
          const expected = createHmac("sha256", k).update(message).digest();
          expect(HmacSha256.for(k).macAfterBlock(laidOut(message, filler)).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("matches the RFC 4231 test case 2 and keeps each key apart on one instance per key", () => {
    const jefe = createSecretKey(Buffer.from("Jefe"));
    const mac = HmacSha256.for(jefe).macAfterBlock(laidOut(Buffer.from("what do ya want for nothing?"), 0));
    expect(mac.toString("hex")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    const other = createSecretKey(Buffer.alloc(32, 7));
    expect(HmacSha256.for(jefe)).toBe(HmacSha256.for(jefe));
    expect(HmacSha256.for(other)).not.toBe(HmacSha256.for(jefe));
    const again = HmacSha256.for(other).macAfterBlock(
      laidOut(Buffer.from("what do ya want for nothing?"), 0),
    );
    expect(again.equals(mac)).toBe(false);
  });
});
