/** A controllable clock for tests: starts at a fixed instant and moves only when told. */
export interface TestClock {
  (): number;
  /** Moves time forward by `ms`. */
  advance(ms: number): void;
  /** Sets the time. */
  set(ms: number): void;
}

/** Creates a {@link TestClock} starting at `start` (ms). */
export function testClock(start = Date.UTC(2026, 0, 1, 12, 0, 0)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (ms) => {
    now += ms;
  };
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}
