import { ConfigInvalidError } from "./errors.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A duration: a number of seconds, or a string such as `"500ms"`, `"10s"`, `"15m"`, `"30d"`. */
export type Duration = number | string;

/**
 * Parses a {@link Duration} into milliseconds. Throws `ConfigInvalidError` naming `option` on bad input.
 * @example parseDuration("15m", "accessTokenTtl") // 900000
 */
export function parseDuration(value: Duration, option: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0)
      throw new ConfigInvalidError(option, "must be a non-negative number of seconds");
    return Math.round(value * 1000);
  }
  if (typeof value !== "string")
    throw new ConfigInvalidError(option, 'must be a number of seconds or a string like "15m"');
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(value);
  if (!m)
    throw new ConfigInvalidError(
      option,
      `cannot parse duration ${JSON.stringify(value)} (use e.g. "10s", "15m", "30d")`,
    );
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}
