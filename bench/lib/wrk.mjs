// wrk (a C load generator) for the server-bound HTTP rows: one wrk thread on its own CPU sends
// requests faster than any of the three frameworks answers them, so the server's CPU is what limits
// the rate and the ratio of two routes is the ratio of what they cost the server. autocannon, in
// Node, is slower than the servers it drives on a small machine, which blurs differences of a few
// percent.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether `wrk` is installed (Debian: `apt-get install wrk`). */
export function wrkAvailable() {
  try {
    execFileSync("sh", ["-c", "command -v wrk"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * A wrk runner for `tokens` (one, sent with every request, or many, sent round-robin one per request
 * by a Lua script reading them from a file). `run(url, seconds)` resolves with `{ rps, total, failed }`
 * (failed: non-2xx answers and socket errors). `close()` removes the script's files.
 */
export function wrkRunner(tokens, { connections = 10, cpu } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "revokit-wrk-"));
  const args = ["-t", "1", "-c", String(connections)];
  if (tokens.length === 1) {
    args.push("-H", `Authorization: Bearer ${tokens[0]}`);
  } else {
    const list = join(dir, "tokens.txt");
    writeFileSync(list, `${tokens.join("\n")}\n`, { mode: 0o600 });
    const script = join(dir, "tokens.lua");
    writeFileSync(
      script,
      `local tokens = {}
for line in io.lines(${JSON.stringify(list)}) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { Authorization = tokens[i] })
end
`,
    );
    args.push("-s", script);
  }
  const command = cpu === undefined ? "wrk" : "taskset";
  const prefix = cpu === undefined ? [] : ["-c", String(cpu), "wrk"];
  return {
    run(url, seconds) {
      return new Promise((resolve, reject) => {
        execFile(
          command,
          [...prefix, ...args, "-d", `${Math.max(1, Math.round(seconds))}s`, url],
          (error, out) => {
            if (error) return reject(new Error(`wrk: ${error.message}`));
            const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
            const total = /(\d+) requests in/.exec(out);
            if (!rps || !total) return reject(new Error("wrk: unexpected output"));
            const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
            const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
            const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
            resolve({ rps: Number(rps[1]), total: Number(total[1]), failed: non2xx + errors });
          },
        );
      });
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
