// Section 6: refresh-token rotations per second, per store, with default store options: 32 sessions
// rotating concurrently (each its own chain) for a fixed time, through `auth.refresh`.
import { createAuth } from "../../dist/index.js";
import { AUTH_OPTIONS, log } from "./common.mjs";
import { openStore } from "./stores.mjs";

const SESSIONS = 32;

/** Returns rotations per second. */
export async function benchRefresh(kind, target, seconds) {
  const auth = await createAuth({ ...AUTH_OPTIONS, store: await openStore(kind, target) });
  try {
    log(`refresh: ${kind}`);
    const chains = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => auth.login(`refresh-${i}`)));
    const run = async (ms) => {
      let rotations = 0;
      const end = performance.now() + ms;
      await Promise.all(
        chains.map(async (chain, i) => {
          let token = chain.refreshToken;
          while (performance.now() < end) {
            token = (await auth.refresh(token)).refreshToken;
            rotations++;
          }
          chains[i] = { ...chain, refreshToken: token };
        }),
      );
      return rotations;
    };
    await run(300); // warm-up
    const start = performance.now();
    const rotations = await run(seconds * 1000);
    return (rotations / (performance.now() - start)) * 1000;
  } finally {
    await auth.close();
  }
}
