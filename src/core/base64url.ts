const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url decoding (RFC 7515 §2): only the URL-safe alphabet, no padding, no whitespace,
 * and canonical (the unused trailing bits are zero). Returns `undefined` on any deviation.
 */
export function decodeBase64urlStrict(input: string): Buffer | undefined {
  return B64URL.test(input) ? decodeBase64urlAlphabetChecked(input) : undefined;
}

/**
 * {@link decodeBase64urlStrict} for input already known to hold only base64url characters (the
 * caller tested the alphabet, perhaps for several parts at once): checks length and canonical form.
 */
export function decodeBase64urlAlphabetChecked(input: string): Buffer | undefined {
  const rem = input.length % 4;
  if (rem === 1) return undefined;
  // A non-canonical final group decodes to the same bytes as the canonical one: its unused low bits
  // (4 of the last character after 2, 2 after 3) are not zero.
  if (rem !== 0 && (VALUE[input.charCodeAt(input.length - 1) & 127]! & (rem === 2 ? 15 : 3)) !== 0)
    return undefined;
  return Buffer.from(input, "base64url");
}

/**
 * {@link decodeBase64urlStrict} for input known to be ASCII (the caller checked, perhaps for a whole
 * token at once), without a pass over the alphabet: Node's decoder skips every character outside it
 * and stops at `=`, so any such character leaves the output shorter than the length implies; `+` and
 * `/`, which it takes as base64, are looked for. (The ASCII gate matters: Node reads a character
 * above U+00FF by its low byte, so "Ł" would decode as "A".)
 */
export function decodeBase64urlAscii(input: string): Buffer | undefined {
  const rem = input.length % 4;
  if (rem === 1 || input.includes("+") || input.includes("/")) return undefined;
  const bytes = Buffer.from(input, "base64url");
  if (bytes.length !== (input.length * 3) >>> 2) return undefined;
  if (rem !== 0 && (VALUE[input.charCodeAt(input.length - 1) & 127]! & (rem === 2 ? 15 : 3)) !== 0)
    return undefined;
  return bytes;
}

/** ASCII code to its base64url value (the caller has checked the alphabet; other codes map to 0). */
const VALUE = new Uint8Array(128);
for (let i = 0; i < 64; i++) {
  VALUE["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
}

/** base64url without padding. */
export function encodeBase64url(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64url");
}
