// Section 4: propagation of a revocation to 3 other node processes, per store. This process logs a
// session out; each node verifies the session's token every millisecond and reports the moment it
// is refused. A sample is the time from the start of the logout call to the parent receiving that
// report (IPC included, so the figure errs on the slow side).
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createAuth } from "../../dist/index.js";
import { AUTH_OPTIONS, log, percentile, startChild } from "./common.mjs";
import { openStore } from "./stores.mjs";

const NODE = fileURLToPath(new URL("./node.mjs", import.meta.url));
const NODES = 3;

/** Returns `{ samples, p50, p99, max }` in ms. */
export async function benchPropagation(kind, target, samples) {
  const auth = await createAuth({ ...AUTH_OPTIONS, store: await openStore(kind, target) });
  const nodes = [];
  try {
    for (let i = 0; i < NODES; i++) nodes.push(await startChild(NODE, { kind, target }));
    const waiting = new Map();
    for (const node of nodes) {
      node.on("refused", (msg) => {
        const w = waiting.get(msg.id);
        if (!w) return;
        if (msg.code !== "ERR_SESSION_REVOKED") w.reject(new Error(`refused with ${msg.code}`));
        w.times.push(performance.now() - w.t0);
        if (w.times.length === NODES) w.resolve(w.times);
      });
    }
    const all = [];
    log(`propagation: ${kind}, ${samples} revocations seen by ${NODES} processes`);
    for (let s = 0; s < samples; s++) {
      const t = await auth.login(`prop-${s}`);
      await Promise.all(nodes.map((n) => n.call("watch", s, t.accessToken)));
      const done = new Promise((resolve, reject) => waiting.set(s, { resolve, reject, times: [], t0: 0 }));
      done.catch(() => undefined); // awaited below; a timeout must not count as unhandled meanwhile
      const w = waiting.get(s);
      const timeout = setTimeout(() => w.reject(new Error(`${kind}: not propagated within 10 s`)), 10_000);
      w.t0 = performance.now();
      await auth.logout(t.sessionId);
      all.push(...(await done));
      clearTimeout(timeout);
      waiting.delete(s);
      await sleep(5);
    }
    return { samples: all.length, p50: percentile(all, 50), p99: percentile(all, 99), max: Math.max(...all) };
  } finally {
    await Promise.all(nodes.map((n) => n.call("close").catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    await auth.close();
  }
}
