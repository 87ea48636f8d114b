/**
 * Several node PROCESSES (createAuth + redisStore from dist/) on one real Redis: propagation of
 * revocations between them, and a Redis outage while they serve (fail closed, loud failed writes,
 * recovery without restart, nothing lost across a Redis restart with AOF on).
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/eventually.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const FIXTURE = new URL("../fixtures/redis-node.mjs", import.meta.url).pathname;
const DIST = new URL("../../dist/stores/redis/index.js", import.meta.url).pathname;

interface Reply {
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
}

interface TokenSet {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

/** One node process, driven over IPC. */
class Node {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (reply: Reply) => void>();
  #next = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (msg: Reply & { id?: number }) => {
      if (msg.id === undefined) return;
      this.#waiting.get(msg.id)?.(msg);
      this.#waiting.delete(msg.id);
    });
  }

  static async start(options: { url: string; maxStaleness: string }): Promise<Node> {
    const child = fork(FIXTURE, [JSON.stringify(options)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`node process exited (${code}) before it was ready`)));
    });
    return new Node(child);
  }

  /** Sends one operation; resolves with the raw reply (failures are replies with a code). */
  call(op: string, ...args: unknown[]): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.send({ id, op, args });
    });
  }

  /** Sends one operation that must succeed. */
  async ok<T>(op: string, ...args: unknown[]): Promise<T> {
    const reply = await this.call(op, ...args);
    if (!reply.ok) throw new Error(`${op} failed: ${reply.code} ${reply.message}`);
    return reply.result as T;
  }

  /** The error code of a verification, or "valid". */
  async verify(token: string): Promise<string> {
    const reply = await this.call("verify", token);
    return reply.ok ? "valid" : (reply.code ?? "?");
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.kill("SIGKILL");
    await exited;
  }
}

const server: RedisServer | undefined = await startRedis({ appendonly: true });
const nodes: Node[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await server?.stop();
});

async function startNodes(count: number, maxStaleness: string): Promise<Node[]> {
  if (!server) throw new Error("no redis");
  const started = await Promise.all(
    Array.from({ length: count }, () => Node.start({ url: server.url, maxStaleness })),
  );
  nodes.push(...started);
  return started;
}

describe.skipIf(!server)(
  `redis: node processes on one Redis ${server ? "" : `(${redisUnavailableReason})`}`,
  () => {
    it("needs dist/ (npm run build)", () => {
      expect(existsSync(DIST), "run `npm run build` before these tests").toBe(true);
    });

    it("a revocation on one node is refused by the two others within a generous bound", async () => {
      const [a, b, c] = (await startNodes(3, "1s")) as [Node, Node, Node];
      const t = await a.ok<TokenSet>("login", "user-propagation");
      const other = await b.ok<TokenSet>("login", "user-propagation-2");
      for (const n of [a, b, c]) {
        expect(await n.verify(t.accessToken)).toBe("valid");
        expect(await n.verify(other.accessToken)).toBe("valid");
      }

      // A session revocation on a, watched from b and c.
      const watchB = b.ok<{ code: string | null; ms: number }>("waitRefused", t.accessToken, 5_000);
      const watchC = c.ok<{ code: string | null; ms: number }>("waitRefused", t.accessToken, 5_000);
      expect(await a.ok<boolean>("logout", t.sessionId)).toBe(true);
      expect(await a.verify(t.accessToken)).toBe("ERR_SESSION_REVOKED"); // the revoking node: before the call returned
      for (const seen of await Promise.all([watchB, watchC])) expect(seen.code).toBe("ERR_SESSION_REVOKED");

      // A single access-token revocation on c, watched from a and b.
      const watchA2 = a.ok<{ code: string | null }>("waitRefused", other.accessToken, 5_000);
      const watchB2 = b.ok<{ code: string | null }>("waitRefused", other.accessToken, 5_000);
      await c.ok("revokeAccessToken", other.accessToken);
      for (const seen of await Promise.all([watchA2, watchB2])) expect(seen.code).toBe("ERR_TOKEN_REVOKED");
      // Nothing else was touched: a session of the same user still works everywhere.
      const again = await b.ok<TokenSet>("login", "user-propagation-2");
      for (const n of [a, b, c]) expect(await n.verify(again.accessToken)).toBe("valid");
    });

    it("Redis killed while nodes serve: fail closed, loud failed writes, recovery without restart, nothing lost (AOF)", async () => {
      if (!server) return;
      const [a, b, c] = (await startNodes(3, "300ms")) as [Node, Node, Node];
      const keep = await a.ok<TokenSet>("login", "user-outage-keep");
      const gone = await a.ok<TokenSet>("login", "user-outage-gone");
      const spare = await b.ok<TokenSet>("login", "user-outage-spare");
      await a.ok("logout", gone.sessionId);
      for (const n of [b, c])
        expect((await n.ok<{ code: string }>("waitRefused", gone.accessToken, 5_000)).code).toBe(
          "ERR_SESSION_REVOKED",
        );
      // The last revocation before the crash: acknowledged, then Redis dies at once.
      const last = await c.ok<TokenSet>("login", "user-outage-last");
      await c.ok("revokeAccessToken", last.accessToken);
      const epoch = (await a.ok<{ replica: { epoch: string } }>("status")).replica.epoch;
      await server.kill();

      // Until maxStaleness the replica answers; after it, verification fails closed. Never a success for a
      // revoked token, never an ERR_TOKEN_*/ERR_SESSION_* for the valid one.
      const deadline = Date.now() + 10_000;
      const unavailable = new Set<Node>();
      while (unavailable.size < 3) {
        if (Date.now() > deadline) throw new Error("the nodes never failed closed");
        for (const n of [a, b, c]) {
          const valid = await n.verify(keep.accessToken);
          expect(["valid", "ERR_REVOCATION_UNAVAILABLE"]).toContain(valid);
          if (valid === "ERR_REVOCATION_UNAVAILABLE") unavailable.add(n);
          expect(["ERR_SESSION_REVOKED", "ERR_REVOCATION_UNAVAILABLE"]).toContain(
            await n.verify(gone.accessToken),
          );
          expect(["ERR_TOKEN_REVOKED", "ERR_REVOCATION_UNAVAILABLE"]).toContain(
            await n.verify(last.accessToken),
          );
        }
      }
      for (const n of [a, b, c]) expect(await n.verify(gone.accessToken)).toBe("ERR_REVOCATION_UNAVAILABLE");

      // A revocation attempted during the outage fails loudly (and promptly), instead of pretending.
      const started = Date.now();
      expect((await b.call("logout", spare.sessionId)).code).toBe("ERR_STORE_UNAVAILABLE");
      expect((await c.call("revokeAccessToken", keep.accessToken)).code).toBe("ERR_STORE_UNAVAILABLE");
      expect((await a.call("login", "user-outage-new")).code).toBe("ERR_STORE_UNAVAILABLE");
      expect(Date.now() - started).toBeLessThan(8_000);

      // Redis comes back with its data (AOF): the same nodes recover by themselves.
      await server.restart();
      for (const n of [a, b, c]) {
        await eventually("a node recovers", async () => (await n.verify(keep.accessToken)) === "valid");
        expect(await n.verify(gone.accessToken)).toBe("ERR_SESSION_REVOKED");
        expect(await n.verify(last.accessToken)).toBe("ERR_TOKEN_REVOKED");
        expect(await n.verify(spare.accessToken)).toBe("valid"); // the failed logout did not happen
        expect((await n.ok<{ replica: { epoch: string } }>("status")).replica.epoch).toBe(epoch);
      }
      // A node started only now learns every earlier revocation from Redis itself.
      const [late] = (await startNodes(1, "300ms")) as [Node];
      expect(await late.verify(gone.accessToken)).toBe("ERR_SESSION_REVOKED");
      expect(await late.verify(last.accessToken)).toBe("ERR_TOKEN_REVOKED");
      expect(await late.verify(keep.accessToken)).toBe("valid");
      // And writes work again everywhere.
      expect(await b.ok<boolean>("logout", spare.sessionId)).toBe(true);
      await eventually(
        "the late node sees a new revocation",
        async () => (await late.verify(spare.accessToken)) === "ERR_SESSION_REVOKED",
      );
    });
  },
);
