import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64urlAscii, decodeBase64urlStrict } from "../../src/core/base64url.js";
import { parseDuration } from "../../src/core/duration.js";
import { ConfigInvalidError } from "../../src/core/errors.js";

describe("decodeBase64urlStrict", () => {
  it.each([
    ["YWI", "ab"],
    ["YWJj", "abc"],
    ["", ""],
    ["_-8", "\xff\xef"],
  ])("decodes %j", (input, out) => {
    expect(decodeBase64urlStrict(input)?.toString("latin1")).toBe(out);
  });

  it.each([
    ["padding", "YWI="],
    ["standard alphabet +", "a+b/"],
    ["whitespace", "YW I"],
    ["impossible length", "YWJjZ"],
    ["non-canonical trailing bits", "YWJ"],
    ["non-canonical trailing bits (2 chars)", "YR"],
    ["dot", "YW.I"],
  ])("refuses %s", (_name, input) => {
    expect(decodeBase64urlStrict(input)).toBeUndefined();
  });
});

describe("decodeBase64urlAscii (no alphabet pass; Node's decoder and the length do the check)", () => {
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  it("refuses every ASCII character outside the alphabet, wherever it stands", () => {
    const valid = Buffer.from("a revokit payload of some length").toString("base64url");
    for (let code = 0; code < 128; code++) {
      const c = String.fromCharCode(code);
      if (ALPHABET.includes(c)) continue;
      for (const at of [0, 1, 7, valid.length - 1, valid.length]) {
        for (const input of [
          valid.slice(0, at) + c + valid.slice(at),
          valid.slice(0, at) + c + valid.slice(at + 1),
        ]) {
          expect(decodeBase64urlAscii(input), JSON.stringify(input)).toBeUndefined();
        }
      }
    }
  });

  it("agrees with decodeBase64urlStrict on any ASCII input and on every encoding", () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    const nearValid = fc
      .tuple(
        fc.uint8Array({ maxLength: 40 }),
        fc.string({ unit: fc.constantFrom(..."+/=. \n!~"), maxLength: 2 }),
        fc.nat(),
      )
      .map(([bytes, noise, at]) => {
        const text = Buffer.from(bytes).toString("base64url");
        const i = at % (text.length + 1);
        return text.slice(0, i) + noise + text.slice(i);
      });
    fc.assert(
      fc.property(fc.oneof(ascii, nearValid), (input) => {
        const strict = decodeBase64urlStrict(input);
        const fast = decodeBase64urlAscii(input);
        expect(fast === undefined ? undefined : fast.toString("hex")).toEqual(strict?.toString("hex"));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("parseDuration", () => {
  it.each([
    [15, 15_000],
    ["500ms", 500],
    ["10s", 10_000],
    ["15m", 900_000],
    ["2h", 7_200_000],
    ["30d", 2_592_000_000],
    ["1w", 604_800_000],
    ["1.5s", 1500],
  ])("parses %j", (input, ms) => {
    expect(parseDuration(input, "x")).toBe(ms);
  });

  it.each([["15"], ["-1s"], ["1y"], [""], [-5], [Number.NaN]])(
    "refuses %j with ERR_CONFIG_INVALID",
    (input) => {
      expect(() => parseDuration(input as string, "accessTokenTtl")).toThrow(ConfigInvalidError);
      try {
        parseDuration(input as string, "accessTokenTtl");
      } catch (e) {
        expect((e as ConfigInvalidError).code).toBe("ERR_CONFIG_INVALID");
        expect((e as ConfigInvalidError).option).toBe("accessTokenTtl");
      }
    },
  );
});
