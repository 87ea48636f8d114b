// Request logging cost on GET /auth/me: autocannon (this process) against the standalone server (a
// child process) with request logging on (level info) and off (level warn), logs to /dev/null.
// Rounds are interleaved; medians are reported. Not part of `npm run bench`.
// Usage: npm run build && node bench/request-logging.mjs [seconds=3] [rounds=3]
import { spawn } from "node:child_process";
import autocannon from "autocannon";

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);

if (process.argv[2] === "--child") {
  const { pino } = await import("pino");
  const { memoryStore } = await import("../dist/index.js");
  const { createServer } = await import("../dist/server/index.js");
  const { createLogger } = await import("../dist/server/logger.js");
  const server = await createServer({
    store: memoryStore(),
    port: 0,
    logger: createLogger(process.argv[3], pino.destination({ dest: "/dev/null", sync: false })),
    scrypt: { N: 2 ** 12, r: 8, p: 1 },
  });
  process.stdout.write(`${await server.listen()}\n`);
} else {
  const results = { info: [], warn: [] };
  for (let round = 0; round < rounds; round++) {
    for (const level of ["info", "warn"]) results[level].push(await run(level));
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const info = median(results.info);
  const warn = median(results.warn);
  console.log(
    `GET /auth/me: server in a child process, autocannon here, 10 connections, ${seconds} s x ${rounds} rounds`,
  );
  console.log(
    `request logging on (info):  ${Math.round(info)} req/s (median; ${results.info.map(Math.round).join(", ")})`,
  );
  console.log(
    `request logging off (warn): ${Math.round(warn)} req/s (median; ${results.warn.map(Math.round).join(", ")})`,
  );
  console.log(`on / off: ${(info / warn).toFixed(2)}`);
}

async function run(level) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, "--child", level], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(d.toString().trim())));
  const body = JSON.stringify({ username: "bench", password: "a long enough password" });
  const headers = { "content-type": "application/json" };
  await fetch(`${url}/auth/register`, { method: "POST", headers, body });
  const t = await (await fetch(`${url}/auth/login`, { method: "POST", headers, body })).json();
  const auth = { authorization: `Bearer ${t.access_token}` };
  await autocannon({ url: `${url}/auth/me`, headers: auth, connections: 10, duration: 1 });
  const r = await autocannon({ url: `${url}/auth/me`, headers: auth, connections: 10, duration: seconds });
  child.kill();
  return r.requests.average;
}
