/**
 * The soak: three `revokit serve` nodes on one Redis (loopback only, a private `redis-server`
 * with AOF on and `noeviction`), a steady load of authenticated requests on every node, and a stream of
 * revocations (single access tokens through RFC 7009 `/oauth/revoke`, whole sessions through
 * `/auth/logout`). Every answer is checked against a ledger of when each revocation returned: a
 * revoked token accepted by a request that started more than the propagation bound after its
 * revocation returned is a violation, and the count must be 0. Each revocation is also probed on the
 * two other nodes until they refuse it, which gives the observed propagation times.
 *
 * Usage: `npm run soak` (builds, then runs for SOAK_DURATION, default 60s), or
 * `node bench/soak.mjs --duration 30s`. Prints one JSON summary; exits 1 on any violation.
 * The short form runs inside `npm test` (test/soak/soak.test.ts).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hasBinary, startRedisServer } from "../test/helpers/redis-process.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "dist/cli/index.js");
const PASSWORD = "soak password, long enough";

/**
 * Options of {@link runSoak}.
 * @typedef {object} SoakOptions
 * @property {number} [durationMs] how long the load runs (default 60 000)
 * @property {number} [nodes] server nodes (default 3)
 * @property {number} [sessions] live sessions kept in the pool (default 40)
 * @property {number} [workers] concurrent request loops (default 12)
 * @property {number} [revokeEveryMs] one revocation this often (default 40)
 * @property {number} [boundMs] the propagation bound: the nodes' maxStaleness (default 1000)
 * @property {(line: string) => void} [log] progress lines (default: stderr)
 */

/**
 * What the soak saw.
 * @typedef {object} SoakSummary
 * @property {number} durationMs
 * @property {number} nodes
 * @property {number} requests authenticated requests sent by the load
 * @property {number} accepted 200 answers
 * @property {number} refused 401 answers
 * @property {number} unavailable 503 answers
 * @property {number} unexpected any other status or a failed request
 * @property {number} revocations revocations that returned (jti + session)
 * @property {number} jtiRevocations
 * @property {number} sessionRevocations
 * @property {number} revokedChecked requests for tokens already revoked when the request started
 * @property {number} revokedAcceptedAfterBound revoked tokens accepted after the bound: must be 0
 * @property {number} revokedAcceptedAfter50ms informational: after the 50 ms goal
 * @property {number} notPropagatedWithinBound probes that never saw a refusal within the bound: must be 0
 * @property {number} falselyRefused 401s for tokens that were never revoked: must be 0
 * @property {{ count: number, p50: number, p99: number, max: number }} propagationMs
 * @property {number} boundMs
 */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a private redis-server (AOF on, noeviction) on a free loopback port, with the tests' own
 * starter; `stop()` kills it and deletes its folder.
 */
function startRedis() {
  if (!hasBinary("redis-server")) {
    throw new Error("the soak needs redis-server on the PATH (apt-get install redis-server)");
  }
  return startRedisServer({ appendonly: true, prefix: "revokit-soak-redis-" });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Starts one `revokit serve` node and resolves with its URL (from its startup log line). */
function startNode(storeUrl, boundMs) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--port",
      "0",
      "--store",
      storeUrl,
      "--issuer",
      "https://soak.revokit.test",
      "--max-staleness",
      `${boundMs}ms`,
      "--ip-max-attempts",
      "0",
      "--login-max-failures",
      "0",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } },
  );
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a node did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.length > 1_000_000) output = output.slice(-100_000);
      for (const line of output.split("\n")) {
        if (!line.includes('"revokit listening"')) continue;
        clearTimeout(timer);
        resolve({ url: JSON.parse(line).url, stop: () => stopChild(child), output: () => output });
        return;
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`a node exited with ${code}:\n${output}`));
    });
  });
}

async function postJson(url, path, body, headers = {}) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function me(url, token) {
  const res = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Runs the soak and resolves with its summary (it does not throw on violations: check
 * `revokedAcceptedAfterBound`, `notPropagatedWithinBound`, `falselyRefused` and `unexpected`).
 * @param {SoakOptions} [options]
 * @returns {Promise<SoakSummary>}
 */
export async function runSoak(options = {}) {
  const durationMs = options.durationMs ?? 60_000;
  const nodeCount = options.nodes ?? 3;
  const poolSize = options.sessions ?? 40;
  const workerCount = options.workers ?? 12;
  const revokeEveryMs = options.revokeEveryMs ?? 40;
  const boundMs = options.boundMs ?? 1000;
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));

  const cleanups = [];
  try {
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const nodes = [];
    // The first node creates the signing key; the others load it.
    nodes.push(await startNode(redis.url, boundMs));
    nodes.push(
      ...(await Promise.all(Array.from({ length: nodeCount - 1 }, () => startNode(redis.url, boundMs)))),
    );
    for (const n of nodes) cleanups.push(n.stop);
    const urls = nodes.map((n) => n.url);
    log(`soak: ${nodeCount} nodes on ${redis.url}, ${durationMs} ms`);

    const users = 8;
    for (let u = 0; u < users; u++) {
      const r = await postJson(urls[0], "/auth/register", { username: `soak-${u}`, password: PASSWORD });
      if (r.status !== 201) throw new Error(`register failed: ${r.status}`);
    }
    const login = async (i) => {
      const r = await postJson(urls[i % urls.length], "/auth/login", {
        username: `soak-${i % users}`,
        password: PASSWORD,
      });
      if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
      return { access: r.body.access_token, refresh: r.body.refresh_token, sid: r.body.session_id };
    };

    /** Live sessions: { access, refresh, sid }. */
    const pool = await Promise.all(Array.from({ length: poolSize }, (_, i) => login(i)));
    /** Revoked access tokens -> performance.now() when the revocation returned. */
    const revokedAt = new Map();
    const revokedList = [];
    const s = {
      requests: 0,
      accepted: 0,
      refused: 0,
      unavailable: 0,
      unexpected: 0,
      jtiRevocations: 0,
      sessionRevocations: 0,
      revokedChecked: 0,
      revokedAcceptedAfterBound: 0,
      revokedAcceptedAfter50ms: 0,
      notPropagatedWithinBound: 0,
    };
    const latencies = [];
    /** Tokens refused while not yet revoked: checked at the end (a revocation may have been in flight). */
    const refusedUnrevoked = [];
    let stop = false;
    let logins = poolSize;
    let rnd = 0x9e3779b9;
    const random = () => {
      rnd ^= rnd << 13;
      rnd ^= rnd >>> 17;
      rnd ^= rnd << 5;
      return (rnd >>> 0) / 0x100000000;
    };

    const worker = async (w) => {
      for (let k = w; !stop; k++) {
        // Half the requests replay a recently revoked token, half use a live one.
        const useRevoked = revokedList.length > 0 && random() < 0.5;
        const token = useRevoked
          ? revokedList[revokedList.length - 1 - Math.floor(random() * Math.min(200, revokedList.length))]
          : pool[Math.floor(random() * pool.length)].access;
        const node = urls[k % urls.length];
        const started = performance.now();
        const revokedBefore = revokedAt.get(token);
        let status;
        try {
          status = await me(node, token);
        } catch {
          status = 0;
        }
        s.requests++;
        if (status === 200) {
          s.accepted++;
          if (revokedBefore !== undefined) {
            if (started > revokedBefore + boundMs) s.revokedAcceptedAfterBound++;
            if (started > revokedBefore + 50) s.revokedAcceptedAfter50ms++;
          }
        } else if (status === 401) {
          s.refused++;
          if (revokedBefore === undefined) refusedUnrevoked.push(token);
        } else if (status === 503) s.unavailable++;
        else s.unexpected++;
        if (revokedBefore !== undefined) s.revokedChecked++;
      }
    };

    /** Polls the other nodes until each refuses `token`; records how long that took. */
    const probe = async (token, from, returnedAt) => {
      await Promise.all(
        urls.map(async (node, j) => {
          if (j === from) return;
          for (;;) {
            const sent = performance.now();
            const status = await me(node, token).catch(() => 0);
            if (status === 401) {
              // Until the refusal arrived: one HTTP round trip more than the propagation itself.
              latencies.push(performance.now() - returnedAt);
              return;
            }
            // A request sent after the bound must have been refused (a slower answer to an earlier
            // request is not a violation).
            if (sent - returnedAt > boundMs) {
              s.notPropagatedWithinBound++;
              return;
            }
            await sleep(2);
          }
        }),
      );
    };

    const revoker = async () => {
      const probes = [];
      for (let n = 0; !stop; n++) {
        const i = Math.floor(random() * pool.length);
        const victim = pool[i];
        const from = n % urls.length;
        const node = urls[from];
        if (random() < 0.8) {
          // One access token, through RFC 7009 as the public client; the session lives on.
          const res = await fetch(`${node}/oauth/revoke`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ token: victim.access, token_type_hint: "access_token" }).toString(),
          });
          await res.arrayBuffer();
          const returnedAt = performance.now();
          if (res.status !== 200) throw new Error(`/oauth/revoke answered ${res.status}`);
          revokedAt.set(victim.access, returnedAt);
          revokedList.push(victim.access);
          s.jtiRevocations++;
          probes.push(probe(victim.access, from, returnedAt));
          const next = await postJson(urls[(from + 1) % urls.length], "/auth/refresh", {
            refresh_token: victim.refresh,
          });
          if (next.status !== 200) throw new Error(`/auth/refresh answered ${next.status}`);
          pool[i] = { access: next.body.access_token, refresh: next.body.refresh_token, sid: victim.sid };
        } else {
          // The whole session.
          const r = await postJson(node, "/auth/logout", {}, { authorization: `Bearer ${victim.access}` });
          const returnedAt = performance.now();
          if (r.status !== 204) throw new Error(`/auth/logout answered ${r.status}`);
          revokedAt.set(victim.access, returnedAt);
          revokedList.push(victim.access);
          s.sessionRevocations++;
          probes.push(probe(victim.access, from, returnedAt));
          pool[i] = await login(logins++);
        }
        await sleep(revokeEveryMs);
      }
      await Promise.all(probes);
    };

    const startedAt = performance.now();
    const loops = [...Array.from({ length: workerCount }, (_, w) => worker(w)), revoker()];
    await sleep(durationMs);
    stop = true;
    await Promise.all(loops);
    const elapsed = performance.now() - startedAt;

    // Finally, every revoked token is refused by every node.
    for (const token of revokedList) {
      for (const node of urls) {
        if ((await me(node, token)) !== 401) s.revokedAcceptedAfterBound++;
      }
    }
    const falselyRefused = refusedUnrevoked.filter((t) => !revokedAt.has(t)).length;
    latencies.sort((a, b) => a - b);
    const round = (x) => Math.round(x * 10) / 10;
    return {
      durationMs: Math.round(elapsed),
      nodes: nodeCount,
      requests: s.requests,
      accepted: s.accepted,
      refused: s.refused,
      unavailable: s.unavailable,
      unexpected: s.unexpected,
      revocations: s.jtiRevocations + s.sessionRevocations,
      jtiRevocations: s.jtiRevocations,
      sessionRevocations: s.sessionRevocations,
      revokedChecked: s.revokedChecked,
      revokedAcceptedAfterBound: s.revokedAcceptedAfterBound,
      revokedAcceptedAfter50ms: s.revokedAcceptedAfter50ms,
      notPropagatedWithinBound: s.notPropagatedWithinBound,
      falselyRefused,
      propagationMs: {
        count: latencies.length,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? 0),
      },
      boundMs,
    };
  } finally {
    for (const stopOne of cleanups.reverse()) await stopOne().catch(() => undefined);
  }
}

/** Parses `30s`, `2m`, `1500ms` or a number of milliseconds. */
function parseMs(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(text).trim());
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return Math.round(m[2] === "m" ? n * 60_000 : m[2] === "s" ? n * 1000 : m[2] === "ms" ? n : n);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf("--duration");
  const duration = parseMs(at > 0 ? process.argv[at + 1] : (process.env.SOAK_DURATION ?? "60s"));
  const summary = await runSoak({ durationMs: duration });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const failed =
    summary.revokedAcceptedAfterBound > 0 ||
    summary.notPropagatedWithinBound > 0 ||
    summary.falselyRefused > 0 ||
    summary.unexpected > 0;
  process.exitCode = failed ? 1 : 0;
}
