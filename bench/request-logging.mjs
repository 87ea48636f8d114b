// Request logging cost on GET /auth/me: autocannon (this process) against the standalone server (a
// child process) with request logging on (level info) and off (level warn), logs to /dev/null.
// Rounds are interleaved; medians are reported. Not part of `npm run bench`.
// Usage: npm run build && node bench/request-logging.mjs [seconds=3] [rounds=3] [OTHER_DIST]
// With OTHER_DIST (the dist/ folder of another build), that build is measured too, side by side.
import { spawn } from "node:child_process";
import autocannon from "autocannon";

if (process.argv[2] === "--child") {
  const dist = process.argv[4];
  const { pino } = await import("pino");
  const { memoryStore } = await import(`${dist}/index.js`);
  const { createServer } = await import(`${dist}/server/index.js`);
  const { createLogger } = await import(`${dist}/server/logger.js`);
  const server = await createServer({
    store: memoryStore(),
    port: 0,
    logger: createLogger(process.argv[3], pino.destination({ dest: "/dev/null", sync: false })),
    scrypt: { N: 2 ** 12, r: 8, p: 1 },
  });
  process.stdout.write(`${await server.listen()}\n`);
  // Each line on stdin asks for the CPU time used so far (µs): contention-proof cost per request.
  process.stdin.on("data", () => {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
} else {
  const seconds = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 3);
  const builds = { this: new URL("../dist", import.meta.url).pathname };
  if (process.argv[4]) builds.other = process.argv[4];
  const results = {};
  for (let round = 0; round < rounds; round++) {
    for (const [build, dist] of Object.entries(builds)) {
      for (const level of ["info", "warn"]) {
        results[`${build} ${level}`] ??= [];
        results[`${build} ${level} cpu`] ??= [];
        const r = await run(level, dist, seconds);
        results[`${build} ${level}`].push(r.rps);
        results[`${build} ${level} cpu`].push(r.cpuPerRequest);
      }
    }
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const list = (v) => v.map(Math.round).join(", ");
  console.log(
    `GET /auth/me: server in a child process, autocannon here, 10 connections, ${seconds} s x ${rounds} rounds`,
  );
  for (const build of Object.keys(builds)) {
    const on = results[`${build} info`];
    const off = results[`${build} warn`];
    const cpuOn = median(results[`${build} info cpu`]);
    const cpuOff = median(results[`${build} warn cpu`]);
    console.log(
      `${build} build: logging on (info) ${Math.round(median(on))} req/s [${list(on)}], ${cpuOn.toFixed(0)} µs CPU/req; ` +
        `off (warn) ${Math.round(median(off))} req/s [${list(off)}], ${cpuOff.toFixed(0)} µs CPU/req; ` +
        `throughput on/off ${(median(on) / median(off)).toFixed(2)}, CPU on/off ${(cpuOn / cpuOff).toFixed(2)}`,
    );
  }
}

async function run(level, dist, seconds) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, "--child", level, dist], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = () => new Promise((resolve) => child.stdout.once("data", (d) => resolve(d.toString().trim())));
  const url = await line();
  const cpu = async () => {
    const answer = line();
    child.stdin.write("cpu\n");
    return Number(await answer);
  };
  const body = JSON.stringify({ username: "bench", password: "a long enough password" });
  const headers = { "content-type": "application/json" };
  await fetch(`${url}/auth/register`, { method: "POST", headers, body });
  const t = await (await fetch(`${url}/auth/login`, { method: "POST", headers, body })).json();
  const auth = { authorization: `Bearer ${t.access_token}` };
  await autocannon({ url: `${url}/auth/me`, headers: auth, connections: 10, duration: 1 });
  const before = await cpu();
  const r = await autocannon({ url: `${url}/auth/me`, headers: auth, connections: 10, duration: seconds });
  const used = (await cpu()) - before;
  child.kill();
  return { rps: r.requests.average, cpuPerRequest: used / r.requests.total };
}
