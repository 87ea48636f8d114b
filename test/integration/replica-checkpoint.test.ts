/**
 * Checkpoints on every store: a node writes a compact snapshot of its replica to the store, and a
 * node that starts later loads it and the feed after it (more than one feed batch of it) instead of
 * reading every revocation, and refuses exactly what a full read would refuse: tokens revoked before
 * and after the checkpoint, sessions, a user's cutoff. A checkpoint that cannot be used (corrupt, or
 * of another epoch than the store's feed) is passed over for the full read, never half-loaded.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { type Auth, createAuth, type Logger, type Store } from "../../src/index.js";
import { CompactIndex } from "../../src/replica/compact-index.js";
import { encodeSnapshot } from "../../src/replica/snapshot-codec.js";
import { outcomeOf, storeTargets } from "../security/store-targets.js";

const { targets, missing } = await storeTargets();
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

for (const m of missing) {
  describe.skipIf(!process.env.CI)(`replica checkpoints: ${m.name} (${m.reason})`, () => {
    it("needs its server", () => {
      throw new Error(m.reason);
    });
  });
}

const id = () => randomBytes(16).toString("base64url");

/** Revokes `n` made-up jtis straight in the store (as other nodes would), many writes in flight. */
async function revokeMany(store: Store, n: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, () =>
        store.addRevocation({
          kind: "jti",
          subject: id(),
          expiresAt: now + 3_600_000,
          reason: "test",
          actor: "test",
          at: now,
        }),
      ),
    );
  }
}

/** A node on `store`, as every test of this file makes one. */
function node(store: Store, logger?: Logger): Promise<Auth> {
  return createAuth({
    issuer: "https://issuer.checkpoint",
    audience: "api",
    store,
    purgeInterval: 0,
    checkpointInterval: 0,
    ...(logger ? { logger } : {}),
  });
}

for (const target of targets) {
  describe(`replica checkpoints: ${target.name}`, () => {
    it("a new node loads the newest checkpoint and the feed after it, and refuses what a full read refuses", async () => {
      const { stores, cleanup } = await target.open(4);
      const [sa, sb, sc1, sc2] = stores as [Store, Store, Store, Store];
      const opened: Auth[] = [];
      try {
        const a = await node(sa);
        opened.push(a);
        const before = await a.login("u-before");
        const loggedOut = await a.login("u-session");
        const cut = await a.login("u-cut");
        const kept = await a.login("u-kept");
        await a.revokeAccessToken(before.accessToken);
        await a.logout(loggedOut.sessionId);
        await a.logoutAll("u-cut");
        await revokeMany(sa, 300);
        await a.ready();
        expect(await a.checkpoint()).toBe(true);

        // After the checkpoint: more than one feed batch, and revocations of every grain.
        const after = await a.login("u-after");
        const afterSession = await a.login("u-after-session");
        await revokeMany(sa, 1_500);
        await a.revokeAccessToken(after.accessToken);
        await a.logout(afterSession.sessionId);

        const b = await node(sb);
        opened.push(b);
        await b.ready();
        const status = b.status().replica;
        expect(status.loadedFrom).toBe("checkpoint");
        expect(status.tokens).toBeGreaterThanOrEqual(1_802);
        expect(await outcomeOf(b.verify(before.accessToken))).toBe("ERR_TOKEN_REVOKED");
        expect(await outcomeOf(b.verify(after.accessToken))).toBe("ERR_TOKEN_REVOKED");
        expect(await outcomeOf(b.verify(loggedOut.accessToken))).toBe("ERR_SESSION_REVOKED");
        expect(await outcomeOf(b.verify(afterSession.accessToken))).toBe("ERR_SESSION_REVOKED");
        expect(await outcomeOf(b.verify(cut.accessToken))).toBe("ERR_SESSION_REVOKED");
        expect(await outcomeOf(b.verify(kept.accessToken))).toBe("accepted");

        // A corrupt newer checkpoint, then one of another epoch: each is passed over for a full read.
        const write = sa.writeCheckpoint?.bind(sa);
        if (!write) throw new Error(`${target.name} keeps no checkpoints`);
        const empty = new CompactIndex().exportWords(0);
        const otherEpoch = encodeSnapshot({
          jtis: empty,
          sessions: empty,
          rows: [],
          globalCutoff: 0,
          cursor: "0",
          epoch: "not-this-store",
        });
        for (const [store, data, takenAt] of [
          [sc1, randomBytes(64), Date.now() + 1],
          [sc2, otherEpoch, Date.now() + 2],
        ] as const) {
          expect(await write({ takenAt, data })).toBe(true);
          const errors: string[] = [];
          const logger: Logger = {
            warn: (_o, m) => errors.push(String(m)),
            error: (_o, m) => errors.push(String(m)),
          };
          const c = await node(store, logger);
          opened.push(c);
          await c.ready();
          expect(c.status().replica.loadedFrom).toBe("snapshot");
          expect(await outcomeOf(c.verify(after.accessToken))).toBe("ERR_TOKEN_REVOKED");
          expect(await outcomeOf(c.verify(cut.accessToken))).toBe("ERR_SESSION_REVOKED");
          expect(await outcomeOf(c.verify(kept.accessToken))).toBe("accepted");
        }
      } finally {
        await Promise.all(opened.map((n) => n.close()));
        await cleanup();
      }
    });
  });
}
