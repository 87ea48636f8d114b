/**
 * Races on every store, through three nodes (Auth instances, each on its own store instance) over one
 * data set. (50 concurrent refreshes of one token are in the store contract suite for every store.)
 *
 * - Refresh racing logout: once `logout` returns, every token of the session, including those minted by
 *   a refresh still in flight when the logout ran, is refused: at once on the revoking node, within
 *   the propagation bound elsewhere; and no refresh started after the logout returned succeeds.
 * - Logout-all racing logins: `logoutAll` records the user's cutoff in one write. Every session
 *   authenticated before it ends (a login still writing its session then gets none), and a login
 *   started after the call returned always works, even in the same second.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Auth, TokenSet } from "../../src/index.js";
import { openNodes, outcomeOf, sleep, storeTargets, within } from "./store-targets.js";

/** Generous for a loaded two-core machine; the goal on an idle host is milliseconds. */
const PROPAGATION_BOUND_MS = 3_000;
const REFUSED = new Set(["ERR_SESSION_REVOKED"]);
const REFRESH_REFUSED = new Set(["ERR_REFRESH_INVALID", "ERR_REFRESH_REUSED"]);

const { targets, missing } = await storeTargets();
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

for (const m of missing) {
  // Outside CI a missing server skips with its reason; under CI it fails (never a silent skip).
  describe.skipIf(!process.env.CI)(`races: ${m.name} (${m.reason})`, () => {
    it("needs its server", () => {
      throw new Error(m.reason);
    });
  });
}

/** Every node refuses `token` as revoked: `first` at once, the others within the bound. */
async function refusedEverywhere(nodes: Auth[], first: Auth, token: string): Promise<void> {
  expect(await outcomeOf(first.verify(token))).toBe("ERR_SESSION_REVOKED");
  for (const node of nodes) {
    await within("a revoked token is refused on every node", PROPAGATION_BOUND_MS, async () =>
      REFUSED.has(await outcomeOf(node.verify(token))),
    );
  }
}

for (const target of targets) {
  describe(`races: ${target.name}`, () => {
    it("refresh racing logout: no token of the session is accepted once the logout returned", async () => {
      const { nodes, close } = await openNodes(target, 3);
      const [a, b, c] = nodes as [Auth, Auth, Auth];
      try {
        const rounds = await Promise.all(
          Array.from({ length: 8 }, async (_, round) => {
            const first = await b.login(`racer-${round}`);
            const minted: TokenSet[] = [first];
            const lateStarts: string[] = [];
            let current = first.refreshToken;
            let loggedOutAt = Number.POSITIVE_INFINITY;
            let stop = false;
            // A client refreshing as fast as it can, alternating between two nodes.
            const refresher = (async () => {
              for (let i = 0; !stop; i++) {
                const startedAt = performance.now();
                try {
                  const next = await (i % 2 === 0 ? b : c).refresh(current);
                  minted.push(next);
                  current = next.refreshToken;
                  if (startedAt > loggedOutAt) lateStarts.push(next.sessionId);
                } catch (error) {
                  expect(REFRESH_REFUSED).toContain((error as { code?: string }).code);
                  await sleep(1);
                }
              }
            })();
            await sleep(round * 3);
            expect(await a.logout(first.sessionId)).toBe(true);
            loggedOutAt = performance.now();
            await sleep(40);
            stop = true;
            await refresher;
            return { round, first, minted, lateStarts, current };
          }),
        );
        for (const { round, first, minted, lateStarts, current } of rounds) {
          // No refresh that started after the logout returned produced tokens.
          expect(lateStarts).toEqual([]);
          for (const t of minted) {
            expect(t.sessionId).toBe(first.sessionId);
            await refusedEverywhere(nodes, a, t.accessToken);
          }
          for (const node of nodes) expect(REFRESH_REFUSED).toContain(await outcomeOf(node.refresh(current)));
          const live = (await a.listSessions(`racer-${round}`)).map((s) => s.sessionId);
          expect(live).not.toContain(first.sessionId);
        }
        // The race was real: refreshes ran before the logouts landed.
        expect(rounds.reduce((n, r) => n + r.minted.length, 0)).toBeGreaterThan(rounds.length);
      } finally {
        await close();
      }
    });

    it("logout-all racing logins: every session authenticated before its cutoff ends, none after", async () => {
      const { nodes, close } = await openNodes(target, 3);
      const [a, b, c] = nodes as [Auth, Auth, Auth];
      try {
        for (let round = 0; round < 3; round++) {
          const user = `crowd-${round}`;
          const before = await Promise.all(Array.from({ length: 5 }, (_, i) => nodes[i % 3]!.login(user)));
          const logins: { set: TokenSet | null; startedAt: number; endedAt: number }[] = [];
          let callStartedAt = 0;
          let callEndedAt = 0;
          const loginsDone = Promise.all(
            Array.from({ length: 16 }, async (_, i) => {
              await sleep(i * 2);
              const startedAt = performance.now();
              // A login whose credentials were checked before the cutoff but written after it gets
              // no session at all (ERR_LOGIN_STALE).
              const set = await (i % 2 === 0 ? b : c).login(user, { userAgent: `device-${i}` }).catch((e) => {
                expect((e as { code?: string }).code).toBe("ERR_LOGIN_STALE");
                return null;
              });
              logins.push({ set, startedAt, endedAt: performance.now() });
            }),
          );
          await sleep(8 + round * 6);
          callStartedAt = performance.now();
          await a.logoutAll(user);
          callEndedAt = performance.now();
          // A login started after logoutAll returned survives, even in the same second.
          const after = await b.login(user);
          await loginsDone;

          const live = new Set((await a.listSessions(user)).map((s) => s.sessionId));
          for (const t of before) expect(live).not.toContain(t.sessionId);
          for (const l of logins) {
            if (l.endedAt < callStartedAt) expect(l.set && live.has(l.set.sessionId)).toBeFalsy();
            if (l.startedAt > callEndedAt) expect(l.set && live.has(l.set.sessionId)).toBe(true);
          }
          expect(live).toContain(after.sessionId);
          const all = [...before, ...logins.flatMap((l) => (l.set ? [l.set] : [])), after];
          for (const t of all) {
            if (!live.has(t.sessionId)) {
              await refusedEverywhere(nodes, a, t.accessToken);
              expect(REFRESH_REFUSED).toContain(await outcomeOf(c.refresh(t.refreshToken)));
            } else {
              for (const node of nodes) expect(await outcomeOf(node.verify(t.accessToken))).toBe("accepted");
              expect(await outcomeOf(c.refresh(t.refreshToken))).toBe("accepted");
            }
          }
        }
      } finally {
        await close();
      }
    });
  });
}
