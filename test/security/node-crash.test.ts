/**
 * A server node SIGKILLed in the middle of a stream of revocations, and restarted: two `revokit
 * serve` processes on one SQLite file. Every logout that was answered 204 before the kill holds, on
 * the other node and on the restarted one; a logout whose answer was lost either happened everywhere
 * or nowhere; and sessions nobody revoked keep working on the restarted node.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { within } from "./store-targets.js";

const PASSWORD = "a password long enough";
/** Generous for a loaded two-core machine (the SQLite feed polls every few milliseconds). */
const PROPAGATION_BOUND_MS = 5_000;

interface Tokens {
  access_token: string;
  session_id: string;
}

const dir = mkdtempSync(join(tmpdir(), "revokit-crash-"));
const started: ServeProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<ServeProcess> {
  // One issuer for both nodes (the default is each node's own URL).
  const s = await startServe([
    "--store",
    `sqlite:${join(dir, "auth.db")}`,
    "--issuer",
    "https://auth.crash.test",
    "--ip-max-attempts",
    "0",
  ]);
  started.push(s);
  return s;
}

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

async function me(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe("a server node killed while it revokes", () => {
  it("every acknowledged logout holds on the other node and after the restart; nothing else is lost", async () => {
    const a = await serve();
    const b = await serve();
    expect((await post(a.url, "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
    const sessions: Tokens[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await post(i % 2 ? a.url : b.url, "/auth/login", { username: "alice", password: PASSWORD });
      expect(res.status).toBe(200);
      sessions.push((await res.json()) as Tokens);
    }
    const targets = sessions.slice(0, 30);
    const untouched = sessions.slice(30);

    // Logouts on node A, fired in waves; A is SIGKILLed while they are in flight.
    const acked = new Set<string>();
    const attempted = new Set<string>();
    const inFlight: Promise<void>[] = [];
    for (const [i, t] of targets.entries()) {
      attempted.add(t.session_id);
      inFlight.push(
        post(a.url, "/auth/logout", {}, { authorization: `Bearer ${t.access_token}` }).then(
          async (res) => {
            await res.arrayBuffer();
            if (res.status === 204) acked.add(t.session_id);
          },
          () => undefined, // the connection died with the node: no answer
        ),
      );
      if (i === 14) {
        await Promise.all(inFlight); // the first half is surely acknowledged
      }
      if (i === 20) a.child.kill("SIGKILL");
    }
    await Promise.all(inFlight);
    expect(a.child.signalCode ?? (await new Promise((r) => a.child.once("exit", (_c, sig) => r(sig))))).toBe(
      "SIGKILL",
    );
    expect(acked.size).toBeGreaterThanOrEqual(15);
    expect(acked.size).toBeLessThan(targets.length);

    // The other node refuses every acknowledged logout.
    for (const t of targets.filter((x) => acked.has(x.session_id))) {
      await within(
        "node B refuses an acknowledged logout",
        PROPAGATION_BOUND_MS,
        async () => (await me(b.url, t.access_token)) === 401,
      );
    }

    // Node A comes back on the same file: its revocations are in force there too.
    const again = await serve();
    for (const t of targets) {
      const [onA, onB] = [await me(again.url, t.access_token), await me(b.url, t.access_token)];
      if (acked.has(t.session_id)) expect([onA, onB]).toEqual([401, 401]);
      else expect(onA, "a lost answer: the logout happened everywhere or nowhere").toBe(onB);
    }
    for (const t of untouched) {
      expect(await me(again.url, t.access_token)).toBe(200);
      expect(await me(b.url, t.access_token)).toBe(200);
    }
    // And the restarted node revokes again, seen by the other one.
    const last = untouched[0]!;
    expect(
      (await post(again.url, "/auth/logout", {}, { authorization: `Bearer ${last.access_token}` })).status,
    ).toBe(204);
    await within(
      "node B refuses a logout on the restarted node",
      PROPAGATION_BOUND_MS,
      async () => (await me(b.url, last.access_token)) === 401,
    );
  });
});
