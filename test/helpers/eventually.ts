/**
 * Polls `check` every 20 ms until it returns true, and returns how long that took (ms); fails naming
 * `what` once `timeoutMs` has passed without it. Where a test asserts a propagation bound,
 * `timeoutMs` is that bound.
 * @example
 * const ms = await eventually("node b refuses the revoked token", async () => !(await b.verify(t)).ok, 1000);
 */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
