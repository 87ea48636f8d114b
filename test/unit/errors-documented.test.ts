import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import * as api from "../../src/index.js";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

/** Every exported `AuthError` subclass (the base class is abstract, so it is not one of them). */
const classes = (Object.values(api) as unknown[]).filter(
  (v): v is (abstract new (...args: never[]) => api.AuthError) & { code: api.AuthErrorCode } =>
    typeof v === "function" && (v as { prototype: unknown }).prototype instanceof api.AuthError,
);

describe("error codes", () => {
  it("ERROR_CODES lists exactly the AuthErrorCode union", () => {
    expectTypeOf<(typeof api.ERROR_CODES)[number]>().toEqualTypeOf<api.AuthErrorCode>();
    expect(new Set(api.ERROR_CODES).size).toBe(api.ERROR_CODES.length);
  });

  it.each(api.ERROR_CODES)("%s is documented in docs/errors.md", (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it.each(classes.map((C) => [C.name, C] as const))("%s is documented in docs/errors.md", (name) => {
    expect(doc).toContain(`\`${name}\``);
  });

  it("each code belongs to exactly one exported class, whose static and instance code agree", () => {
    const codes = classes.map((C) => C.code);
    expect([...codes].sort()).toEqual([...api.ERROR_CODES].sort());
    for (const C of classes) {
      const { code } = Reflect.construct(C, ["claims", "x"]) as api.AuthError;
      expect(code, C.name).toBe(C.code);
    }
  });

  it("every documented code is in the union (no stale rows)", () => {
    const rows = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual([...api.ERROR_CODES].sort());
  });
});
