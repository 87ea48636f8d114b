import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

describe("error codes", () => {
  it.each(api.ERROR_CODES)("%s is documented in docs/errors.md", (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it("every exported AuthError subclass has a code listed in ERROR_CODES", () => {
    const classes = Object.values(api).filter(
      (v): v is new (...a: never[]) => api.AuthError =>
        typeof v === "function" && v.prototype instanceof api.AuthError,
    );
    expect(classes.length).toBeGreaterThanOrEqual(api.ERROR_CODES.length);
    for (const C of classes) {
      const instance = Object.create(C.prototype) as api.AuthError;
      const code = Reflect.construct(C, ["x" as never, "y" as never]).code ?? instance.code;
      expect(api.ERROR_CODES).toContain(code);
    }
  });
});
