// Shared helpers of `npm run bench`: timing, statistics, deterministic ids, child processes.
import { execFileSync, fork } from "node:child_process";
import { cpus } from "node:os";
import { setImmediate as yieldToLoop } from "node:timers/promises";

export const ISSUER = "https://bench.example";
export const AUDIENCE = "api";
/** Quiet logger for every Auth and store of the bench (warnings would garble the table). */
export const QUIET = { warn: () => undefined, error: () => undefined, info: () => undefined };
/** The createAuth options every Auth of the bench shares (add `store` and what a section varies). */
export const AUTH_OPTIONS = { issuer: ISSUER, audience: AUDIENCE, purgeInterval: 0, logger: QUIET };

/** Progress goes to stderr; stdout carries only the final table. */
export function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * Runs `fn` over `inputs` in a loop for about `ms` milliseconds and returns operations per second.
 * Every 256 calls it yields to the event loop (as a server does between requests), so background work
 * such as the replica's change feed keeps running. Any failure of `fn` aborts the bench: a contender
 * that throws must never look fast. `cursor.at` (when given) is where it starts in `inputs` and
 * where it stopped, so that successive runs walk through all of them in turn.
 */
export async function opsPerSecond(fn, inputs, ms, isAsync, cursor = { at: 0 }) {
  let n = 0;
  let i = cursor.at % inputs.length;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  while (now < end) {
    if (isAsync) {
      for (let k = 0; k < 256; k++) {
        await fn(inputs[i]);
        if (++i === inputs.length) i = 0;
      }
    } else {
      for (let k = 0; k < 256; k++) {
        fn(inputs[i]);
        if (++i === inputs.length) i = 0;
      }
    }
    n += 256;
    await yieldToLoop();
    now = performance.now();
  }
  cursor.at = i;
  return (n / (now - start)) * 1000;
}

/**
 * Measures several contenders side by side: `rounds` rounds, each running every contender for
 * `ms` (in a rotating order, so drift in machine load spreads evenly). Returns, per contender, the
 * median ops/s and the median of its per-round ratios to contender 0 (paired within each round, so
 * that the machine's drift between rounds cancels out): `[{ ops, vsFirst }]`.
 * Each contender walks through `inputs` in turn across its runs (it resumes where its last run
 * stopped), so with many inputs every one is used, not only the first few.
 */
export async function sideBySide(contenders, inputs, { rounds = 5, ms = 200 } = {}) {
  const results = contenders.map(() => []);
  const cursors = contenders.map(() => ({ at: 0 }));
  for (const [k, c] of contenders.entries()) await opsPerSecond(c.fn, inputs, 50, c.async, cursors[k]); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < contenders.length; j++) {
      const k = (j + r) % contenders.length;
      const c = contenders[k];
      results[k].push(await opsPerSecond(c.fn, inputs, ms, c.async, cursors[k]));
    }
  }
  return results.map((r) => ({
    ops: median(r),
    vsFirst: median(r.map((ops, round) => ops / results[0][round])),
  }));
}

/**
 * A deterministic 128-bit id in the form revokit's `randomId()` makes (22 base64url characters),
 * from a seed and an index: the bench can regenerate a key without keeping it alive. Distinct
 * `(seed, i)` give distinct ids (word 0 is a bijection of `i` for one seed, word 1 of the seed).
 */
export function idFor(seed, i) {
  const b = Buffer.allocUnsafe(16);
  b.writeUInt32LE(fmix32((i + Math.imul(seed, 0x9e3779b1)) >>> 0), 0);
  b.writeUInt32LE(fmix32((seed ^ 0x5bd1e995) >>> 0), 4);
  b.writeUInt32LE(fmix32((i ^ 0x27d4eb2f) >>> 0), 8);
  b.writeUInt32LE(fmix32((Math.imul(i, 0x165667b1) + seed) >>> 0), 12);
  return b.toString("base64url");
}

/** MurmurHash3's finalizer: a bijection of 32-bit integers that mixes every bit. */
function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Whether processes can be pinned to CPUs here: `taskset` exists and the machine has at least two
 * CPUs. Decided once, before anything is pinned: the number of CPUs a process may use
 * (`availableParallelism`) drops to one once {@link pinSelf} has pinned it, which must not turn
 * the pinning of its children off.
 */
export function pinning() {
  pinnable ??= (() => {
    if (cpus().length < 2) return false;
    try {
      execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  return pinnable;
}
let pinnable;
pinning();

/**
 * Pins this process to `cpus` (a taskset list such as "0" or "0-3") and returns a function that
 * restores its previous CPUs; a no-op where {@link pinning} is false.
 */
export function pinSelf(cpus) {
  if (!pinning()) return () => undefined;
  const before = execFileSync("taskset", ["-cp", String(process.pid)], { encoding: "utf8" })
    .trim()
    .split(": ")
    .pop();
  execFileSync("taskset", ["-a", "-cp", cpus, String(process.pid)], { stdio: "ignore" });
  return () => execFileSync("taskset", ["-a", "-cp", before, String(process.pid)], { stdio: "ignore" });
}

/**
 * A child Node process running `script` with JSON `config`, spoken to over IPC: `call(op, ...args)`
 * resolves with the child's answer; `on(type, fn)` receives unsolicited messages.
 */
export async function startChild(script, config, { execArgv = [], cpu } = {}) {
  // On a given CPU: through taskset, which execs node in place (same pid, same IPC channel).
  const pinned = cpu !== undefined && pinning();
  const child = fork(script, [JSON.stringify(config)], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    ...(pinned
      ? { execPath: "taskset", execArgv: ["-c", String(cpu), process.execPath, ...execArgv] }
      : { execArgv }),
  });
  const pending = new Map();
  const listeners = new Map();
  let nextId = 1;
  child.on("message", (msg) => {
    if (msg && typeof msg.id === "number" && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.ok) resolve(msg.result);
      else reject(Object.assign(new Error(msg.message), { code: msg.code }));
    } else if (msg && typeof msg.type === "string") {
      listeners.get(msg.type)?.(msg);
    }
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise((resolve, reject) => {
    listeners.set("ready", resolve);
    listeners.set("failed", (msg) => reject(new Error(msg.message)));
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return {
    child,
    call(op, ...args) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, op, args });
      });
    },
    on(type, fn) {
      listeners.set(type, fn);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The child side of {@link startChild}: reports a failure to start, then exits. */
export function failToParent(error) {
  process.send({ type: "failed", message: String(error?.message ?? error) }, () => process.exit(1));
}

/**
 * The child side of {@link startChild}: answers `{ id, op, args }` with `ops[op](...args)` (the
 * tests' node fixtures speak the same protocol).
 */
export { serveOps as serveParent } from "../../test/fixtures/node-ipc.mjs";

/** Formats a rate: 7,234/s or 1.23M/s. */
export function rate(x, unit = "/s") {
  if (!Number.isFinite(x)) return "n/a";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M${unit}`;
  return `${Math.round(x).toLocaleString("en-US")}${unit}`;
}

export function ratio(x) {
  if (!Number.isFinite(x)) return "n/a";
  return x >= 100 ? `${Math.round(x)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

/** A target's status: "met" or "missed by ..." (`higher`: whether bigger is better). */
export function status(value, target, { higher, unit = "", digits = 2, format } = {}) {
  if (!Number.isFinite(value)) return "not measured";
  const ok = higher ? value >= target : value <= target;
  if (ok) return "met";
  const show = format ?? ((v) => `${v.toFixed(digits)}${unit}`);
  return `**missed** by ${show(Math.abs(value - target))}`;
}

export async function importOptional(path) {
  try {
    return await import(path);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}
