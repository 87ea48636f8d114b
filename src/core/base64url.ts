const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url decoding (RFC 7515 §2): only the URL-safe alphabet, no padding, no whitespace,
 * and canonical (the unused trailing bits are zero). Returns `undefined` on any deviation.
 */
export function decodeBase64urlStrict(input: string): Buffer | undefined {
  const rem = input.length % 4;
  if (rem === 1 || !B64URL.test(input)) return undefined;
  const buf = Buffer.from(input, "base64url");
  // A non-canonical final group decodes to the same bytes as the canonical one; re-encoding the
  // last one or two bytes tells them apart.
  if (rem !== 0 && buf.subarray(buf.length - (rem - 1)).toString("base64url") !== input.slice(input.length - rem)) {
    return undefined;
  }
  return buf;
}

/** base64url without padding. */
export function encodeBase64url(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64url");
}
