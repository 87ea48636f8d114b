// Section 1: verification per algorithm, side by side in one process: the node:crypto floor, our
// `auth.verifySync` and `await auth.verify` against 1,000,000 revocations (each with the default
// verified-token cache and without it), `jose.jwtVerify` and `fast-jwt`; for one token verified again
// and again, and for many users (20,000 distinct tokens in turn, more than the cache holds).
import {
  createHmac,
  createSecretKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { promisify } from "node:util";
import { createVerifier } from "fast-jwt";
import * as jose from "jose";
import { createAuth, memoryStore } from "../../dist/index.js";
import { AUDIENCE, ISSUER, idFor, log, QUIET, sideBySide } from "./common.mjs";

export const ALGS = ["EdDSA", "ES256", "RS256", "HS256"];
const REQUIRED = ["sub", "jti", "sid", "client_id", "iat", "exp"];
/** Distinct tokens of the many-users runs (the default cache holds 10,000). */
export const MANY_USERS = 20_000;
export const REVOCATIONS = 1_000_000;
const signAsync = promisify(cryptoSign);

function keysForAllAlgorithms() {
  const ed = generateKeyPairSync("ed25519");
  const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const rs = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const hs = createSecretKey(randomBytes(32));
  return {
    EdDSA: { kid: "bench-ed", sign: ed.privateKey, verify: ed.publicKey },
    ES256: { kid: "bench-es", sign: es.privateKey, verify: es.publicKey },
    RS256: { kid: "bench-rs", sign: rs.privateKey, verify: rs.publicKey },
    HS256: { kid: "bench-hs", sign: hs, verify: hs },
  };
}

/**
 * The floor: what verification costs at the least on this machine: the node:crypto signature check,
 * base64url and JSON parse of the payload, and the claim checks. No header parsing (the key is known),
 * no strictness, no revocation.
 */
function floorVerifier(alg, key) {
  const check =
    alg === "HS256"
      ? (data, sig) =>
          sig.length === 32 && timingSafeEqual(createHmac("sha256", key).update(data).digest(), sig)
      : alg === "EdDSA"
        ? (data, sig) => cryptoVerify(null, data, key, sig)
        : alg === "ES256"
          ? (data, sig) => cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig)
          : (data, sig) => cryptoVerify("sha256", data, key, sig);
  return (token) => {
    const d1 = token.indexOf(".");
    const d2 = token.lastIndexOf(".");
    if (!check(Buffer.from(token.slice(0, d2), "latin1"), Buffer.from(token.slice(d2 + 1), "base64url"))) {
      throw new Error("floor: bad signature");
    }
    const p = JSON.parse(Buffer.from(token.slice(d1 + 1, d2), "base64url").toString("utf8"));
    const now = Date.now() / 1000;
    if (
      p.iss !== ISSUER ||
      !(p.aud === AUDIENCE || (Array.isArray(p.aud) && p.aud.includes(AUDIENCE))) ||
      typeof p.sub !== "string" ||
      typeof p.jti !== "string" ||
      typeof p.sid !== "string" ||
      typeof p.exp !== "number" ||
      p.exp <= now ||
      typeof p.iat !== "number" ||
      p.iat > now + 5
    ) {
      throw new Error("floor: bad claims");
    }
    return p;
  };
}

/**
 * `n` tokens of distinct users, as revokit signs them (header `{alg, kid, typ}`), signed on
 * node:crypto's thread pool, a batch at a time (20,000 RS256 signatures take seconds, not minutes).
 */
async function mintTokens(alg, key, n) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = b64({ alg, kid: key.kid, typ: "at+jwt" });
  const signOne = async (input) => {
    const data = Buffer.from(input);
    if (alg === "HS256") return createHmac("sha256", key.sign).update(data).digest();
    if (alg === "EdDSA") return signAsync(null, data, key.sign);
    if (alg === "ES256") return signAsync("sha256", data, { key: key.sign, dsaEncoding: "ieee-p1363" });
    return signAsync("sha256", data, key.sign);
  };
  const tokens = [];
  for (let from = 0; from < n; from += 256) {
    const batch = [];
    for (let i = from; i < Math.min(n, from + 256); i++) {
      const input = `${header}.${b64({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: `user-${i}`,
        client_id: "default",
        sid: idFor(7, i),
        jti: idFor(8, i + n * ALGS.indexOf(alg)),
        iat: now,
        exp: now + 3600,
      })}`;
      batch.push(signOne(input).then((sig) => `${input}.${sig.toString("base64url")}`));
    }
    tokens.push(...(await Promise.all(batch)));
  }
  return tokens;
}

/**
 * A memory store whose snapshot also holds `count` active jti revocations (none of which covers a
 * bench token), made on the fly: the replica loads them exactly as from any store, while this
 * process keeps no copy of them (so the bench's heap, and its garbage collections, stay small).
 */
export function storeWithRevocations(count) {
  const store = memoryStore();
  return new Proxy(store, {
    get(target, property) {
      // Only the classic snapshot is extended; without snapshotInto the replica falls back to it.
      if (property === "snapshotInto") return undefined;
      if (property === "snapshot") {
        return async (now) => {
          const snap = await target.snapshot(now);
          const entries = [...snap.entries];
          for (let i = 0; i < count; i++) {
            entries.push({
              seq: "0",
              kind: "jti",
              subject: idFor(99, i),
              expiresAt: now + 3_600_000,
              reason: "bench",
              actor: "bench",
              at: now,
            });
          }
          return { ...snap, entries };
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Returns rows `{ alg, mix, name, ops, vsFloor }` (mix: "one token" or "many users"; `vsFloor` the
 * median of the rounds' ratios to the floor, which runs first) and the replica size of the 1M nodes.
 */
export async function benchVerify({ rounds, ms, users = MANY_USERS }) {
  const keys = keysForAllAlgorithms();
  const keyInputs = ALGS.map((alg) => ({
    alg,
    kid: keys[alg].kid,
    key: alg === "HS256" ? keys[alg].sign.export() : keys[alg].sign,
  }));
  const common = {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithm: "EdDSA",
    algorithms: ALGS,
    keys: keyInputs,
    purgeInterval: 0,
    logger: QUIET,
  };
  log(`verify: two nodes load ${REVOCATIONS.toLocaleString("en-US")} revocations`);
  const full = await createAuth({ ...common, store: storeWithRevocations(REVOCATIONS), verifyCache: false });
  // One node per cached contender: a cache is state, and two contenders sharing it would share hits.
  const fullCached = await createAuth({ ...common, store: storeWithRevocations(REVOCATIONS) });
  const fullCachedSync = await createAuth({ ...common, store: storeWithRevocations(REVOCATIONS) });
  await Promise.all([full.ready(), fullCached.ready(), fullCachedSync.ready()]);
  // verifySync answers only from a replica shown current: loading three snapshots of 1M entries
  // blocked the event loop long enough for the first feed answers to be late.
  const current = async () => {
    for (const started = Date.now(); ![full, fullCached, fullCachedSync].every((a) => a.isFresh()); ) {
      if (Date.now() - started > 30_000) throw new Error("verify: the replicas did not become current");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await current();
  const replicaSize = full.status().replica.tokens;
  if (replicaSize < REVOCATIONS)
    throw new Error(`the replica holds ${replicaSize} entries, not ${REVOCATIONS}`);

  const rows = [];
  for (const alg of ALGS) {
    const key = keys[alg];
    log(`verify: ${alg}: signing ${users.toLocaleString("en-US")} tokens`);
    const many = await mintTokens(alg, key, users);
    const joseKey =
      alg === "HS256"
        ? new Uint8Array(key.verify.export())
        : await jose.importJWK(key.verify.export({ format: "jwk" }), alg);
    const joseOptions = {
      algorithms: [alg],
      issuer: ISSUER,
      audience: AUDIENCE,
      typ: "at+jwt",
      requiredClaims: REQUIRED,
    };
    const fast = createVerifier({
      key: alg === "HS256" ? key.verify.export() : key.verify.export({ format: "pem", type: "spki" }),
      algorithms: [alg],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      checkTyp: "at+jwt",
      requiredClaims: REQUIRED,
      cache: false,
    });
    const floor = { name: "floor", fn: floorVerifier(alg, key.verify), async: false };
    const ours = {
      name: "ours, 1M revocations (default cache)",
      fn: (t) => fullCached.verify(t),
      async: true,
      cached: true,
    };
    const oursOff = { name: "ours, 1M revocations, cache off", fn: (t) => full.verify(t), async: true };
    const sync = {
      name: "ours verifySync, 1M revocations (default cache)",
      fn: (t) => fullCachedSync.verifySync(t),
      async: false,
      cached: true,
    };
    const syncOff = {
      name: "ours verifySync, 1M revocations, cache off",
      fn: (t) => full.verifySync(t),
      async: false,
    };
    const joseC = { name: "jose.jwtVerify", fn: (t) => jose.jwtVerify(t, joseKey, joseOptions), async: true };
    const fastC = { name: "fast-jwt", fn: (t) => fast(t), async: false };
    for (const [mix, tokens, contenders] of [
      ["one token", many.slice(0, 1), [floor, sync, syncOff, ours, oursOff, joseC, fastC]],
      ["many users", many, [floor, sync, syncOff, ours, oursOff, joseC]],
    ]) {
      await current();
      // Every contender must accept a sample of the tokens before it is timed.
      for (const c of contenders) for (const t of tokens.slice(0, 64)) await c.fn(t);
      // A node up for a while has seen every active user's token: a cached contender first sees the
      // whole mix once, so that its rows measure the steady state, not the cache filling up.
      for (const c of contenders.filter((x) => x.cached)) {
        for (const [i, t] of tokens.entries()) {
          await c.fn(t);
          if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve)); // the feed runs
        }
      }
      log(`verify: ${alg}, ${mix}`);
      const measured = await sideBySide(contenders, tokens, { rounds, ms });
      for (const [i, c] of contenders.entries()) {
        rows.push({ alg, mix, name: c.name, ops: measured[i].ops, vsFloor: measured[i].vsFirst });
      }
    }
  }
  // The 1M nodes must still hold their revocations (nothing was swept or lost on the way).
  const after = full.status().replica;
  const afterCached = fullCached.status().replica;
  const afterCachedSync = fullCachedSync.status().replica;
  await Promise.all([full.close(), fullCached.close(), fullCachedSync.close()]);
  return {
    rows,
    replicaSize: Math.min(after.tokens, afterCached.tokens, afterCachedSync.tokens),
    fresh: after.fresh && afterCached.fresh && afterCachedSync.fresh,
    users,
  };
}
