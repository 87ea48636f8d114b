/**
 * Clock skew between nodes, at the library level: two Auths on one store, one with a correct clock and
 * one whose clock is off (the `clock` option). Within `clockTolerance` every node accepts every other
 * node's tokens, and a revocation made on any node holds on every node for the whole time the token
 * could be accepted anywhere: however the skew falls between the node that minted the token, the one
 * that revoked it and the one that verifies it. Beyond the tolerance the skewed node is noisy: tokens
 * it mints are refused elsewhere (`iat` in the future), and it refuses the others' fresh tokens.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Auth, createAuth, memoryStore, type TokenSet } from "../../src/index.js";
import { type TestClock, testClock } from "../helpers/clock.js";
import { outcomeOf } from "./store-targets.js";

const TTL_MS = 60_000;
const TOLERANCE_MS = 5_000;
const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

/** A node with a correct clock and one whose clock reads `skewMs` ahead (negative: behind). */
async function twoNodes(skewMs: number): Promise<{ real: TestClock; correct: Auth; skewed: Auth }> {
  const real = testClock();
  const store = memoryStore();
  const options = {
    issuer: "https://issuer.skew",
    audience: "api",
    store,
    accessTokenTtl: TTL_MS / 1000,
    clockTolerance: TOLERANCE_MS / 1000,
    // A replica that never goes stale under the test clock: the replica path is what is checked here.
    maxStaleness: "1h",
    purgeInterval: 0,
  };
  const correct = await createAuth({ ...options, clock: real });
  const skewed = await createAuth({ ...options, clock: () => real() + skewMs });
  opened.push(correct, skewed);
  return { real, correct, skewed };
}

type Revocation = "logout" | "logoutAll" | "token" | "jti";

async function revoke(node: Auth, how: Revocation, t: TokenSet, userId: string): Promise<void> {
  switch (how) {
    case "logout":
      expect(await node.logout(t.sessionId)).toBe(true);
      return;
    case "logoutAll":
      await node.logoutAll(userId);
      expect((await node.listSessions(userId)).map((x) => x.sessionId)).not.toContain(t.sessionId);
      return;
    case "token":
      return node.revokeAccessToken(t.accessToken);
    case "jti": {
      const [, payload] = t.accessToken.split(".");
      return node.revokeAccessToken(JSON.parse(Buffer.from(payload!, "base64url").toString()).jti);
    }
  }
}

/**
 * From now until the token is expired on both nodes, steps time forward and checks that neither node
 * (from its replica, and from the store with `strict`) ever accepts it.
 */
async function neverAcceptedAgain(real: TestClock, nodes: Auth[], token: string): Promise<string[]> {
  const seen: string[] = [];
  for (let step = 0; step < 400; step++) {
    const outcomes = [];
    for (const node of nodes) {
      outcomes.push(
        await outcomeOf(node.verify(token)),
        await outcomeOf(node.verify(token, { strict: true })),
      );
    }
    for (const o of outcomes) {
      expect(o, `accepted ${step * 500} ms after the revocation`).not.toBe("accepted");
      if (!seen.includes(o)) seen.push(o);
    }
    if (outcomes.every((o) => o === "ERR_TOKEN_EXPIRED")) return seen;
    real.advance(500);
  }
  throw new Error("the token never expired");
}

const WITHIN = [4_000, -4_000, TOLERANCE_MS, -TOLERANCE_MS];
const HOW: Revocation[] = ["logout", "logoutAll", "token", "jti"];

describe("clock skew within the tolerance", () => {
  it.each(WITHIN)("tokens minted on either node are accepted on the other (skew %d ms)", async (skew) => {
    const { correct, skewed } = await twoNodes(skew);
    const fromCorrect = await correct.login("u1");
    const fromSkewed = await skewed.login("u2");
    for (const node of [correct, skewed]) {
      expect(await outcomeOf(node.verify(fromCorrect.accessToken))).toBe("accepted");
      expect(await outcomeOf(node.verify(fromSkewed.accessToken))).toBe("accepted");
    }
    expect(await outcomeOf(correct.refresh(fromSkewed.refreshToken))).toBe("accepted");
    expect(await outcomeOf(skewed.refresh(fromCorrect.refreshToken))).toBe("accepted");
  });

  for (const skew of WITHIN) {
    for (const how of HOW) {
      it(`a ${how} revocation holds on both nodes for the token's whole life, whoever minted or revoked it (skew ${skew} ms)`, async () => {
        for (const [minterIs, revokerIs] of [
          ["correct", "skewed"],
          ["skewed", "correct"],
          ["skewed", "skewed"],
          ["correct", "correct"],
        ] as const) {
          // Revoked right after minting, and revoked in the last moments of the token's life.
          for (const lateMs of [0, TTL_MS - 1_000, TTL_MS + TOLERANCE_MS - 500]) {
            const { real, correct, skewed } = await twoNodes(skew);
            const nodes = { correct, skewed };
            const user = `u-${minterIs}-${revokerIs}-${lateMs}`;
            const t = await nodes[minterIs].login(user);
            real.advance(lateMs);
            const acceptedSomewhere = (
              await Promise.all([correct, skewed].map((n) => outcomeOf(n.verify(t.accessToken))))
            ).includes("accepted");
            await revoke(nodes[revokerIs], how, t, user);
            const seen = await neverAcceptedAgain(real, [correct, skewed], t.accessToken);
            // While the token could still be accepted somewhere, it was refused as revoked.
            if (acceptedSomewhere) expect(seen.some((o) => o !== "ERR_TOKEN_EXPIRED")).toBe(true);
            await Promise.all(opened.splice(0).map((a) => a.close()));
          }
        }
      });
    }
  }
});

describe("clock skew beyond the tolerance", () => {
  it("a node 30 s ahead mints tokens the others refuse as issued in the future, until they catch up", async () => {
    const { real, correct, skewed } = await twoNodes(30_000);
    const t = await skewed.login("ahead");
    const error = await correct.verify(t.accessToken).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_TOKEN_INVALID", reason: "iat" });
    expect(await outcomeOf(skewed.verify(t.accessToken))).toBe("accepted");
    real.advance(30_000 - TOLERANCE_MS);
    expect(await outcomeOf(correct.verify(t.accessToken))).toBe("accepted");
  });

  it("a node 30 s ahead refuses the others' tokens 30 s early, as expired", async () => {
    const { real, correct, skewed } = await twoNodes(30_000);
    const t = await correct.login("behind");
    real.advance(TTL_MS - 30_000 + TOLERANCE_MS + 1_000);
    expect(await outcomeOf(skewed.verify(t.accessToken))).toBe("ERR_TOKEN_EXPIRED");
    expect(await outcomeOf(correct.verify(t.accessToken))).toBe("accepted");
  });

  it("a node 30 s behind refuses the others' fresh tokens (iat in its future)", async () => {
    const { correct, skewed } = await twoNodes(-30_000);
    const t = await correct.login("fresh");
    expect(await skewed.verify(t.accessToken).catch((e: unknown) => e)).toMatchObject({
      code: "ERR_TOKEN_INVALID",
      reason: "iat",
    });
  });

  it.each(HOW)(
    "revocations (%s) by a node 30 s ahead still hold everywhere for the token's life",
    async (how) => {
      const { real, correct, skewed } = await twoNodes(30_000);
      const t = await correct.login("victim");
      await revoke(skewed, how, t, "victim");
      const seen = await neverAcceptedAgain(real, [correct], t.accessToken);
      expect(seen[0]).toMatch(/REVOKED/);
    },
  );
});
