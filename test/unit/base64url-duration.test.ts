import { describe, expect, it } from "vitest";
import { decodeBase64urlStrict } from "../../src/core/base64url.js";
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
