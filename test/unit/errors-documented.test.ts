import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

describe("error codes", () => {
  it.each(api.ERROR_CODES)("%s is documented in docs/errors.md", (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it("every exported AuthError subclass has a code listed in ERROR_CODES", () => {
    const classes = (Object.values(api) as unknown[]).filter(
      (v): v is new (...args: never[]) => api.AuthError =>
        typeof v === "function" && (v as { prototype: unknown }).prototype instanceof api.AuthError,
    );
    expect(classes.length).toBeGreaterThanOrEqual(api.ERROR_CODES.length);
    for (const C of classes) {
      const { code } = Reflect.construct(C, ["claims", "x"]) as api.AuthError;
      expect(api.ERROR_CODES as readonly string[]).toContain(code);
    }
  });
});
