// One revokit node of the multi-process sections (propagation, cold start), driven over IPC.
// Config (argv[2], JSON): { kind: "redis" | "postgres" | "sqlite", target, token? }.
// With `token`, the node verifies it right after createAuth: `coldStart()` then returns the time from
// the start of createAuth to the end of that first verify (answered by the store while the replica
// loads), and the time until the replica's snapshot is fully loaded (`auth.ready()`).
import { createAuth } from "../../dist/index.js";
import { AUTH_OPTIONS, failToParent, serveParent } from "./common.mjs";
import { openStore } from "./stores.mjs";

const config = JSON.parse(process.argv[2]);
const store = await openStore(config.kind, config.target);
const started = performance.now();
let auth;
let createdMs;
let firstVerifyMs;
let loadedMs;
try {
  auth = await createAuth({ ...AUTH_OPTIONS, store, keyRefreshInterval: "1h", checkpointInterval: 0 });
  createdMs = performance.now() - started;
  if (config.token) {
    await auth.verify(config.token);
    firstVerifyMs = performance.now() - started;
  }
  await auth.ready(); // propagation is measured on loaded replicas
  loadedMs = performance.now() - started;
} catch (error) {
  const after = ((performance.now() - started) / 1000).toFixed(1);
  failToParent(new Error(`createAuth failed after ${after} s: ${error?.message ?? error}`));
  await new Promise(() => undefined); // exits once the parent has the message
}

serveParent({
  /** Cold start: the time from createAuth's start to the end of the first verify, and the replica's size. */
  coldStart: () => {
    const { replica } = auth.status();
    return {
      ms: firstVerifyMs,
      createdMs,
      loadedMs,
      tokens: replica.tokens,
      loadedFrom: replica.loadedFrom,
      rss: process.memoryUsage().rss,
    };
  },
  /**
   * Propagation: checks `token` is valid now, then verifies it every millisecond and tells the parent
   * (message `refused`) the moment it is refused.
   */
  watch: async (id, token) => {
    await auth.verify(token);
    const poll = async () => {
      try {
        await auth.verify(token);
        setTimeout(poll, 1);
      } catch (error) {
        process.send({ type: "refused", id, code: error.code });
      }
    };
    setTimeout(poll, 1);
  },
  /** Writes a checkpoint of this node's replica to the store (what running nodes do on an interval). */
  checkpoint: () => auth.checkpoint(),
  close: () => auth.close(),
});
