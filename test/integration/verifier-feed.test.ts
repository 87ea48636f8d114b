/**
 * The remote verifier against a scripted auth server over real HTTP (metadata, JWKS and the
 * revocation feed protocol), for what a real store cannot be made to do on cue: a key withdrawal
 * arriving on the feed (its tokens are refused at once, even while the JWKS still lists the key),
 * and a store data loss (a new epoch: every earlier token is refused, once, and later tokens work).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import * as jose from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createVerifier, type Verifier } from "../../src/verifier/index.js";
import { eventually } from "../helpers/eventually.js";

let server: http.Server;
let issuer: string;
let verifier: Verifier;
let privateKey: CryptoKey;
let jwk: jose.JWK;
let epoch = "epoch-1";
let pending: Record<string, unknown>[] = [];
let snapshots = 0;
const KID = "k1";

async function token(iatSec = Math.floor(Date.now() / 1000)): Promise<string> {
  return new jose.SignJWT({ client_id: "default", sid: `s-${Math.random()}`, jti: `j-${Math.random()}` })
    .setProtectedHeader({ alg: "RS256", kid: KID, typ: "at+jwt" })
    .setIssuer(issuer)
    .setAudience("api")
    .setSubject("user-1")
    .setIssuedAt(iatSec)
    .setExpirationTime(iatSec + 600)
    .sign(privateKey);
}

async function outcome(t: string): Promise<string> {
  try {
    await verifier.verify(t);
    return "valid";
  } catch (error) {
    return (error as { code: string }).code;
  }
}

beforeAll(async () => {
  const pair = await jose.generateKeyPair("RS256", { extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  jwk = { ...(await jose.exportJWK(pair.publicKey)), kid: KID, alg: "RS256", use: "sig" };
  let seq = 0;
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", issuer);
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/oauth-authorization-server") {
      return json({
        issuer,
        jwks_uri: `${issuer}/jwks`,
        revocation_feed_endpoint: `${issuer}/feed`,
      });
    }
    if (url.pathname === "/jwks") return json({ keys: [jwk] });
    if (
      url.pathname !== "/feed" ||
      req.headers.authorization !== `Basic ${Buffer.from("rs:secret").toString("base64")}`
    ) {
      res.writeHead(401).end();
      return;
    }
    if (url.searchParams.get("snapshot") === "true") {
      snapshots++;
      // No revocations: the head line only.
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(`${JSON.stringify({ global_cutoff: 0, cursor: `${epoch}:${seq}`, epoch })}\n`);
    }
    const entries = pending;
    pending = [];
    seq += entries.length;
    // A short wait stands in for the long poll; the answer is a heartbeat when nothing came.
    setTimeout(() => json({ entries, cursor: `${epoch}:${seq}`, epoch }), entries.length ? 0 : 20);
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  verifier = await createVerifier({
    issuer,
    audience: "api",
    clientId: "rs",
    clientSecret: "secret",
    logger: { warn: () => undefined, error: () => undefined },
  });
  await verifier.ready();
});

afterAll(async () => {
  await verifier?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

it("a store data loss (new epoch) refuses every earlier token once; later tokens work", async () => {
  const before = await token(Math.floor(Date.now() / 1000) - 5);
  expect(await outcome(before)).toBe("valid");
  epoch = "epoch-2";
  await eventually(
    "the earlier token is refused",
    async () => (await outcome(before)) === "ERR_TOKEN_REVOKED",
  );
  const cutoff = verifier.status().replica.globalCutoff;
  expect(cutoff).toBeGreaterThan(0);
  expect(snapshots).toBe(2);
  await new Promise((r) => setTimeout(r, 1100));
  expect(await outcome(await token())).toBe("valid");
  // Once: following the new epoch moves the cutoff no further.
  await new Promise((r) => setTimeout(r, 300));
  expect(verifier.status().replica.globalCutoff).toBe(cutoff);
  expect(snapshots).toBe(2);
});

it("a key withdrawal on the feed refuses the key's tokens at once, though the JWKS still lists it", async () => {
  const t = await token();
  expect(await outcome(t)).toBe("valid");
  pending.push({
    seq: "x",
    kind: "jti",
    subject: `key:${KID}`,
    expiresAt: Date.now() + 60_000,
    reason: "key_revoked",
    actor: "admin",
    at: Date.now(),
  });
  await eventually("refused", async () => (await outcome(t)) === "ERR_TOKEN_INVALID");
  // The JWKS (still listing k1) was read again, and the key stays withdrawn.
  await new Promise((r) => setTimeout(r, 200));
  expect(await outcome(t)).toBe("ERR_TOKEN_INVALID");
  expect(verifier.status().keys.map((k) => k.kid)).not.toContain(KID);
});
