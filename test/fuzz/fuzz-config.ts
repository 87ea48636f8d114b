/**
 * How long the property-based suites run. In `npm test` every property runs a bounded number of
 * cases; `npm run fuzz` sets `FUZZ_SCALE` (default there: 50) to run many more. `FUZZ_SEED` replays a
 * failing run (fast-check prints the seed and the path of every counterexample it finds).
 */
import type { Parameters } from "fast-check";

/** Multiplier of every property's base number of runs. */
export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);

/** Whether this is the long run (`npm run fuzz`). */
export const LONG_RUN = FUZZ_SCALE > 1;

/** fast-check parameters for a property that runs `base` cases in `npm test`. */
export function fuzzParams<T>(base: number): Parameters<T> {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return {
    numRuns: base * FUZZ_SCALE,
    ...(seed === undefined || Number.isNaN(seed) ? {} : { seed }),
  };
}

/** Per-test timeout: generous in the long run, where one property may take minutes. */
export const FUZZ_TIMEOUT = LONG_RUN ? 30 * 60_000 : 60_000;
