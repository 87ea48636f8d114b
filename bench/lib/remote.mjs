// Section 9: revocation beyond the store, on SQLite. A standalone server runs in this process; remote
// verifiers (`revokit/verifier`) run in their own processes and follow it over HTTP.
// - propagation: from the start of `logout()` on the server to the parent receiving each of 3
//   verifiers' report that the token is refused (each verifies every millisecond; IPC included);
// - cold start: a verifier process started against a server whose store holds N active
//   revocations, from fork to "ready" (snapshot loaded; Node's own start included);
// - SET delivery: from the start of `logout()` to a receiver in this process getting the Security
//   Event Token (RFC 8935 push).
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { createServer } from "../../dist/server/index.js";
import { hashSecret } from "../../dist/server/passwords.js";
import { eventOutboxFor } from "../../dist/stores/outbox/index.js";
import { idFor, log, percentile, startChild } from "./common.mjs";

const VERIFIER = fileURLToPath(new URL("../../test/fixtures/verifier-node.mjs", import.meta.url));
const SECRET = "bench remote verifier secret";
const CHEAP = { N: 2 ** 12, r: 8, p: 1 };

async function startAuthServer(path) {
  const server = await createServer({ store: `sqlite:${path}`, port: 0, logger: "silent", scrypt: CHEAP });
  await server.listen();
  await server.auth.ready();
  if (!(await server.store.getClient("bench-rs"))) {
    await server.store.addClient({
      clientId: "bench-rs",
      secretHash: await hashSecret(SECRET, CHEAP),
      createdAt: Date.now(),
    });
  }
  return server;
}

const verifierConfig = (server) => ({
  issuer: server.issuer,
  audience: "api",
  clientId: "bench-rs",
  clientSecret: SECRET,
  maxStaleness: "1s",
});

const stats = (all) => ({
  samples: all.length,
  p50: percentile(all, 50),
  p99: percentile(all, 99),
  max: Math.max(...all),
});

/** Propagation to 3 remote verifiers and SET delivery latency. Returns `{ propagation, delivery }`. */
export async function benchRemote(dir, samples) {
  const server = await startAuthServer(join(dir, "remote.db"));
  const verifiers = [];
  const received = new Map();
  const receiver = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const payload = JSON.parse(Buffer.from(body.split(".")[1] ?? "", "base64url").toString());
      const sid = payload.sub_id?.id;
      received.get(sid)?.(performance.now());
      res.writeHead(202).end();
    });
  });
  try {
    receiver.listen(0, "127.0.0.1");
    await new Promise((r) => receiver.once("listening", r));
    const outbox = eventOutboxFor(server.store);
    await outbox.init();
    await outbox.setReceiver("bench-rs", `http://127.0.0.1:${receiver.address().port}/events`, Date.now());
    for (let i = 0; i < 3; i++) verifiers.push(await startChild(VERIFIER, verifierConfig(server)));
    const propagation = [];
    const delivery = [];
    log(`remote: ${samples} revocations seen by 3 verifier processes and one event receiver`);
    for (let s = 0; s < samples; s++) {
      const t = await server.auth.login(`remote-${s}`);
      for (const v of verifiers)
        if ((await v.call("verify", t.accessToken)) !== "valid") throw new Error("not valid");
      const arrived = new Promise((resolve) => received.set(t.sessionId, resolve));
      const refused = verifiers.map((v) => v.call("waitFor", t.accessToken, "ERR_SESSION_REVOKED", 10_000));
      await sleep(5);
      const t0 = performance.now();
      const seen = refused.map((p) => p.then(() => performance.now() - t0));
      await server.auth.logout(t.sessionId);
      propagation.push(...(await Promise.all(seen)));
      delivery.push((await arrived) - t0);
      received.delete(t.sessionId);
    }
    return { propagation: stats(propagation), delivery: stats(delivery) };
  } finally {
    await Promise.all(verifiers.map((v) => v.call("close").catch(() => undefined)));
    await Promise.all(verifiers.map((v) => v.stop()));
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
    await server.close();
  }
}

/** A verifier's cold start against a store holding `count` revocations. Returns `{ ms, tokens }`. */
export async function benchRemoteColdStart(dir, count) {
  const path = join(dir, "remote-cold.db");
  // Create the schema, then seed in bulk rows shaped like the ones `addRevocation` writes.
  await (await startAuthServer(path)).close();
  const db = new Database(path);
  const expiresAt = Date.now() + 3600_000;
  const insert = db.prepare(
    "INSERT INTO revocations (kind, subject, cutoff, expires_at, reason, actor, at) VALUES ('jti', ?, NULL, ?, 'bench', 'bench', ?)",
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(idFor(91, i), expiresAt, Date.now());
  })();
  db.close();
  const server = await startAuthServer(path);
  try {
    // The verifier's cold start, not the server's: a running server (its replica loaded and fresh).
    while (!server.auth.status().replica.loaded || !server.auth.isFresh()) await sleep(20);
    log(`remote cold start: a verifier process, ${count} revocations`);
    const t0 = performance.now();
    const verifier = await startChild(VERIFIER, verifierConfig(server));
    const ms = performance.now() - t0;
    const status = await verifier.call("status");
    await verifier.call("close").catch(() => undefined);
    await verifier.stop();
    return { ms, tokens: status.replica.tokens };
  } finally {
    await server.close();
  }
}

/**
 * The size of one status list holding `count` live tokens with `revokedShare` of them revoked at
 * random indices: the `lst` claim and the whole signed Status List Token (RS256 signature size).
 */
export async function benchStatusListSize(count, revokedShare) {
  const { encodeStatusList, StatusBits } = await import("../../dist/core/status-list.js");
  const bits = new StatusBits(count);
  for (let i = 0; i < count; i++) bits.set(i, Math.random() < revokedShare);
  const t0 = performance.now();
  const lst = encodeStatusList(bits);
  const encodeMs = performance.now() - t0;
  // header + claims + an RS256 signature, base64url
  const tokenBytes = 60 + Math.ceil(((lst.length + 140) * 4) / 3) + 342 + 2;
  return { rawBytes: Math.ceil(count / 8), lstBytes: lst.length, tokenBytes, encodeMs };
}
