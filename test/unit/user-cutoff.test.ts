import { describe, expect, it } from "vitest";
import type { UserCutoff } from "../../src/core/model.js";
import { isCutOff, laterUserCutoff, mergeUserCutoff } from "../../src/core/user-cutoff.js";

const T = 1_800_000_000_000;
const cut = (cutoff: number, exceptSessionId: string | null = null): UserCutoff => ({
  cutoff,
  exceptSessionId,
});

describe("the user's cutoff", () => {
  it.each([
    ["before", T - 1, "s", cut(T), true],
    ["in its millisecond", T, "s", cut(T), true],
    ["after", T + 1, "s", cut(T), false],
    ["spared", T - 1, "s", cut(T, "s"), false],
    ["another spared", T - 1, "s", cut(T, "x"), true],
    ["no cutoff", T - 1, "s", null, false],
  ] as const)("a session authenticated %s", (_name, at, sid, user, expected) => {
    expect(isCutOff(at, sid, user)).toBe(expected);
  });

  it.each([
    ["first cutoff", null, cut(T, "s"), T - 5, cut(T, "s")],
    ["first cutoff sparing an unknown session spares none", null, cut(T, "s"), null, cut(T)],
    ["a later cutoff replaces the earlier", cut(T), cut(T + 5), null, cut(T + 5)],
    ["an earlier cutoff changes nothing", cut(T + 5, "a"), cut(T, "b"), T - 5, cut(T + 5, "a")],
    ["the spared session must have been spared before", cut(T), cut(T + 5, "s"), T - 5, cut(T + 5)],
    [
      "a session authenticated after the previous cutoff may be spared",
      cut(T),
      cut(T + 5, "s"),
      T + 1,
      cut(T + 5, "s"),
    ],
    [
      "the previously spared session may be spared again",
      cut(T, "s"),
      cut(T + 5, "s"),
      T - 5,
      cut(T + 5, "s"),
    ],
  ] as const)("merge: %s", (_name, prev, next, keptAt, expected) => {
    expect(mergeUserCutoff(prev, next, keptAt)).toEqual(expected);
  });

  it("a replica keeps the later of two cutoffs, whatever order they arrive in", () => {
    expect(laterUserCutoff(cut(T + 1), cut(T, "s"))).toEqual(cut(T + 1));
    expect(laterUserCutoff(cut(T, "s"), cut(T + 1))).toEqual(cut(T + 1));
    expect(laterUserCutoff(null, cut(T))).toEqual(cut(T));
  });
});
