// Section 7: login and refresh throughput per signing algorithm (memory store, so the figure is
// the signing and the core, not a database), and the cost of one password hash (argon2id at the
// default, scrypt at OWASP's minimum, and the scrypt cost used before).
import { createAuth, memoryStore } from "../../dist/index.js";
import { DEFAULT_PASSWORD_POLICY, hashSecret, verifySecret } from "../../dist/server/passwords.js";
import { AUTH_OPTIONS, log, median } from "./common.mjs";

/** The algorithms measured; RS256 is the default. */
export const LOGIN_ALGS = ["RS256", "ES256", "EdDSA", "HS256"];
const PARALLEL = 32;

async function throughput(ms, op) {
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: PARALLEL }, async (_, i) => {
      while (performance.now() < end) {
        await op(i);
        done++;
      }
    }),
  );
  return (done / (performance.now() - start)) * 1000;
}

/**
 * Logins and refreshes per second for each algorithm: `PARALLEL` callers for `seconds` each, the
 * better of `rounds` runs. Returns `[{ alg, login, refresh }]`.
 */
export async function benchLogin({ seconds, rounds }) {
  const out = [];
  for (const alg of LOGIN_ALGS) {
    log(`login/refresh: ${alg}`);
    const auth = await createAuth({ ...AUTH_OPTIONS, store: memoryStore(), algorithm: alg });
    try {
      const chains = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => auth.login(`u-${i}`)));
      // A new user each time: the per-user session cap (100) would otherwise end the chains' sessions.
      let n = 0;
      const login = (i) => auth.login(`l-${i}-${n++}`);
      const refresh = async (i) => {
        const next = await auth.refresh(chains[i].refreshToken);
        chains[i] = next;
      };
      await throughput(200, login); // warm-up
      await throughput(200, refresh);
      let best = { login: 0, refresh: 0 };
      for (let r = 0; r < rounds; r++) {
        best = {
          login: Math.max(best.login, await throughput(seconds * 1000, login)),
          refresh: Math.max(best.refresh, await throughput(seconds * 1000, refresh)),
        };
      }
      out.push({ alg, ...best });
    } finally {
      await auth.close();
    }
  }
  return out;
}

/**
 * Milliseconds per password hash (median of `n`, one at a time) for the default policy and for
 * scrypt at N=2^17 and N=2^15; and hashes per second with two at once (the two cores of the thread pool).
 */
export async function benchPasswordHash({ n }) {
  const policies = [
    ["argon2id m=19 MiB, t=2, p=1 (default)", DEFAULT_PASSWORD_POLICY],
    ["scrypt N=2^17, r=8, p=1", { algorithm: "scrypt", params: { N: 2 ** 17, r: 8, p: 1 } }],
    ["scrypt N=2^15, r=8, p=1 (before)", { algorithm: "scrypt", params: { N: 2 ** 15, r: 8, p: 1 } }],
  ];
  const out = [];
  for (const [name, policy] of policies) {
    log(`password hash: ${name}`);
    const encoded = await hashSecret("correct horse battery staple", policy);
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await verifySecret("correct horse battery staple", encoded, policy);
      times.push(performance.now() - t);
    }
    const t = performance.now();
    await Promise.all(Array.from({ length: 2 * n }, () => verifySecret("wrong password", encoded, policy)));
    const perSecond = ((2 * n) / (performance.now() - t)) * 1000;
    out.push({ name, ms: median(times), perSecond });
  }
  return out;
}
