/**
 * A steady verification load on several nodes with a stream of revocations, checked against a ledger:
 * a token whose revocation call returned at time R must never be accepted by a verification that
 * started after R + `boundMs` (the replica's `maxStaleness`: past it a node asks the store, or answers
 * 503). Tokens never revoked must be accepted or answered 503, never refused as revoked. Used by the
 * fault suites (a store killed under load) and mirrored by `bench/soak.mjs` over HTTP.
 */
import type { Auth, TokenSet } from "../../src/index.js";

/** What the load saw. */
export interface LoadReport {
  verifies: number;
  accepted: number;
  /** Refused because revoked (ERR_SESSION_REVOKED / ERR_TOKEN_REVOKED). */
  refused: number;
  /** ERR_REVOCATION_UNAVAILABLE answers, per node. */
  unavailable: number[];
  /** Accepted verifications of never-revoked tokens, per node, after the last outage ended. */
  acceptedAfterRecovery: number[];
  revocations: number;
  /** Revocation calls that failed (store down): they may or may not have happened. */
  revocationsFailed: number;
  /** Revoked tokens accepted after the bound: must be 0. */
  revokedAccepted: number;
  /** Never-revoked tokens refused as revoked: must be 0 while the store keeps its data. */
  falselyRefused: number;
  /** Anything else: an unexpected error code, or an error that is not an AuthError. Must be empty. */
  violations: string[];
}

const REVOKED_CODES = new Set(["ERR_SESSION_REVOKED", "ERR_TOKEN_REVOKED"]);

/** Runs verifications on every node and revocations on `revoker` until {@link RevocationLoad.stop}. */
export class RevocationLoad {
  readonly report: LoadReport;
  /** Token index -> `performance.now()` when its revocation call returned. */
  readonly #revokedAt = new Map<number, number>();
  /** Token indexes whose revocation call failed (maybe done, maybe not): no promise either way. */
  readonly #uncertain = new Set<number>();
  /** Token indexes whose revocation call is running. */
  readonly #inFlight = new Set<number>();
  readonly #nodes: Auth[];
  readonly #tokens: TokenSet[];
  readonly #boundMs: number;
  #next = 0;
  #stopped = false;
  #recoveredAt = Number.POSITIVE_INFINITY;
  #loops: Promise<void>[] = [];

  /**
   * @param nodes the nodes under load; the first one also revokes.
   * @param tokens sessions to verify and revoke (one access token each); about half get revoked.
   * @param boundMs how long after a revocation returned other nodes may still accept the token.
   */
  constructor(nodes: Auth[], tokens: TokenSet[], boundMs: number) {
    this.#nodes = nodes;
    this.#tokens = tokens;
    this.#boundMs = boundMs;
    this.report = {
      verifies: 0,
      accepted: 0,
      refused: 0,
      unavailable: nodes.map(() => 0),
      acceptedAfterRecovery: nodes.map(() => 0),
      revocations: 0,
      revocationsFailed: 0,
      revokedAccepted: 0,
      falselyRefused: 0,
      violations: [],
    };
  }

  /** Starts one verification loop per node and the revocation stream (one every `revokeEveryMs`). */
  start(revokeEveryMs = 20): void {
    this.#loops = [
      ...this.#nodes.map((node, i) => this.#verifyLoop(node, i)),
      this.#revokeLoop(revokeEveryMs),
    ];
  }

  /** Marks the end of an outage: from now on, accepted verifications count as recovery. */
  markRecovered(): void {
    this.#recoveredAt = performance.now();
  }

  /** Stops the loops and waits for them. */
  async stop(): Promise<LoadReport> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    return this.report;
  }

  /** Retries every revocation whose call failed (revocations are idempotent), recording it once done. */
  async settleUncertain(): Promise<void> {
    for (const i of [...this.#uncertain]) {
      await this.#revoke(i);
    }
  }

  /** Every token revoked so far (its revocation call returned). */
  get revokedTokens(): string[] {
    return [...this.#revokedAt.keys()].map((i) => this.#tokens[i]!.accessToken);
  }

  /** Tokens that are never revoked (the odd ones). */
  get liveTokens(): string[] {
    return this.#tokens.filter((_, i) => i % 2 === 1).map((t) => t.accessToken);
  }

  async #verifyLoop(node: Auth, n: number): Promise<void> {
    let k = n;
    while (!this.#stopped) {
      k = (k * 7 + 13) % this.#tokens.length;
      const i = k;
      const token = this.#tokens[i]!;
      const startedAt = performance.now();
      let code = "accepted";
      try {
        await node.verify(token.accessToken);
      } catch (error) {
        const c = (error as { code?: unknown }).code;
        code = typeof c === "string" && c.startsWith("ERR_") ? c : `non-AuthError: ${String(error)}`;
      }
      this.report.verifies++;
      const revokedAt = this.#revokedAt.get(i);
      if (code === "accepted") {
        this.report.accepted++;
        if (revokedAt !== undefined && startedAt > revokedAt + this.#boundMs) {
          this.report.revokedAccepted++;
          this.report.violations.push(
            `node ${n} accepted token #${i} ${Math.round(startedAt - revokedAt)} ms after its revocation returned`,
          );
        }
        if (revokedAt === undefined && !this.#uncertain.has(i) && startedAt > this.#recoveredAt) {
          this.report.acceptedAfterRecovery[n]!++;
        }
      } else if (REVOKED_CODES.has(code)) {
        this.report.refused++;
        // A revocation in flight may already be visible; only a token never revoked is a false refusal.
        if (revokedAt === undefined && !this.#uncertain.has(i) && !this.#inFlight.has(i)) {
          this.report.falselyRefused++;
          this.report.violations.push(`node ${n} refused never-revoked token #${i} with ${code}`);
        }
      } else if (code === "ERR_REVOCATION_UNAVAILABLE") {
        this.report.unavailable[n]!++;
      } else {
        this.report.violations.push(`node ${n}: unexpected outcome ${code}`);
      }
      // Yield to the event loop between calls (the replica loops and the revoker share it).
      await new Promise((r) => setImmediate(r));
    }
  }

  async #revokeLoop(everyMs: number): Promise<void> {
    while (!this.#stopped) {
      // Revoke the even tokens only, so that the odd ones stay valid for the whole run.
      if (this.#next < this.#tokens.length) {
        const i = this.#next;
        this.#next += 2;
        await this.#revoke(i);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  async #revoke(i: number): Promise<void> {
    const revoker = this.#nodes[0]!;
    const token = this.#tokens[i]!;
    this.#inFlight.add(i);
    try {
      if (i % 4 === 0) await revoker.logout(token.sessionId, { reason: "security_test" });
      else await revoker.revokeAccessToken(token.accessToken, { reason: "security_test" });
      this.#revokedAt.set(i, performance.now());
      this.#uncertain.delete(i);
      this.report.revocations++;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "ERR_STORE_UNAVAILABLE")
        this.report.violations.push(`revocation failed with ${String(code ?? error)}`);
      this.#uncertain.add(i);
      this.report.revocationsFailed++;
    } finally {
      this.#inFlight.delete(i);
    }
  }
}

/** What {@link crashUnderLoad} needs: the nodes, and how to crash and restart their store. */
export interface CrashScenario {
  /** Three (or more) nodes on one store, each on its own store instance; the first one revokes. */
  nodes: Auth[];
  /** Kills the store's server process (SIGKILL: a crash, not a shutdown). */
  kill(): Promise<void>;
  /** Starts it again on the same data. */
  restart(): Promise<void>;
  /** The nodes' `maxStaleness`, ms: the bound after which a revoked token must be refused. */
  maxStalenessMs: number;
  /** How long nodes may take to serve again after the restart. */
  recoveryBoundMs: number;
}

/** What happened in {@link crashUnderLoad}, for the caller's assertions. */
export interface CrashOutcome {
  report: LoadReport;
  revokedBeforeKill: number;
  revokedAtRecovery: number;
  load: RevocationLoad;
  /** A session created after the restart; accepted everywhere once the nodes recovered. */
  fresh: TokenSet;
}

/**
 * Logs in 800 sessions, starts the load (a revocation every 25 ms), kills the store after 1.5 s, keeps
 * it down for three times `maxStaleness` (every node must fail closed meanwhile), restarts it, waits
 * until every node serves again by itself (a new login accepted everywhere and, unless `expectDataKept`
 * is false, an old valid token too), runs 1.5 s more, stops, and retries the revocations that failed.
 */
export async function crashUnderLoad(scenario: CrashScenario, expectDataKept = true): Promise<CrashOutcome> {
  const { nodes } = scenario;
  const tokens: TokenSet[] = [];
  for (let i = 0; i < 800; i += 50) {
    tokens.push(
      ...(await Promise.all(
        Array.from({ length: 50 }, (_, j) => nodes[j % nodes.length]!.login(`user-${i + j}`)),
      )),
    );
  }
  const load = new RevocationLoad(nodes, tokens, scenario.maxStalenessMs);
  load.start(25);
  await pause(1500);
  const revokedBeforeKill = load.report.revocations;
  await scenario.kill();
  await pause(3 * scenario.maxStalenessMs);
  await scenario.restart();

  const deadline = Date.now() + scenario.recoveryBoundMs;
  let fresh: TokenSet | undefined;
  while (!fresh) {
    fresh = await nodes[1 % nodes.length]!.login("after-restart").catch(() => undefined);
    if (!fresh) {
      if (Date.now() > deadline) throw new Error("no login worked after the restart");
      await pause(50);
    }
  }
  const live = load.liveTokens;
  for (const [i, node] of nodes.entries()) {
    for (;;) {
      const ok =
        (await node.verify(fresh.accessToken).then(
          () => true,
          () => false,
        )) &&
        (!expectDataKept ||
          (await node.verify(live[i]!).then(
            () => true,
            () => false,
          )));
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`node ${i} did not serve again by itself`);
      await pause(20);
    }
  }
  load.markRecovered();
  const revokedAtRecovery = load.report.revocations;
  await pause(1500);
  const report = await load.stop();
  await load.settleUncertain();
  return { report, revokedBeforeKill, revokedAtRecovery, load, fresh };
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
