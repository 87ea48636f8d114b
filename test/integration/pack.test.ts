/**
 * What an adopter gets: `npm pack` gives `revokit`, and a fresh app with the packed tarball compiles
 * every TypeScript example of README.md and docs/*.md, unchanged, under `strict`, then runs each one
 * to its end (no `close()` needed for the process to exit).
 *
 * The tarball is unpacked into the app's node_modules; its dependencies (and the frameworks the
 * examples use) are linked from this repository's node_modules, so the test works offline. A fenced
 * block preceded by `<!-- example: prelude=NAME -->` is a fragment: it runs after the prelude NAME
 * below, which makes the `app`, `auth` and `wipe` the fragment refers to. A block preceded by
 * `<!-- example: compile-only -->` needs a server that is not there (a remote verifier, say): it is
 * compiled, not run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NPM_CLI = process.env.npm_execpath; // set when run through npm; otherwise use `npm` on PATH
/** Packages only this repository's own tests and tools use: an app installing revokit would not have them. */
const DEV_ONLY = new Set([
  "vitest",
  "fast-check",
  "fast-jwt",
  "oauth4webapi",
  "playwright-core",
  "autocannon",
  "@biomejs",
]);

const AUTH = `import { createAuth as __createAuth, memoryStore as __memoryStore } from "revokit";
const auth = await __createAuth({ issuer: "https://auth.example.com", audience: "api", store: __memoryStore() });`;

const PRELUDES: Record<string, { before: string; after: string }> = {
  express: {
    before: `import express from "express";
${AUTH}
const app = express();
const wipe: express.RequestHandler = (_req, res) => {
  res.status(204).end();
};`,
    after: "await auth.close();",
  },
  fastify: {
    before: `import Fastify from "fastify";
${AUTH}
const app = Fastify();
const wipe = async () => ({ wiped: true });`,
    after: "await app.ready();\nawait app.close();\nawait auth.close();",
  },
  hono: {
    before: `import { type Context, Hono } from "hono";
${AUTH}
const app = new Hono();
const wipe = (c: Context) => c.body(null, 204);`,
    after: "await auth.close();",
  },
};

interface Example {
  name: string;
  source: string;
  /** Compiled, not run. */
  compileOnly: boolean;
}

/** The fenced `ts` blocks of a markdown file, with their prelude when one is named. */
function examplesOf(file: string, label: string): Example[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: Example[] = [];
  const fence = /(?:<!--\s*example:\s*(?:prelude=(\w+)|(compile-only))\s*-->\n)?```ts\n([\s\S]*?)```/g;
  let n = 0;
  for (const m of text.matchAll(fence)) {
    n++;
    const prelude = m[1] === undefined ? undefined : PRELUDES[m[1]];
    if (m[1] !== undefined && !prelude) throw new Error(`${file}: unknown prelude ${m[1]}`);
    const body = m[3] as string;
    out.push({
      name: `${label}-${n}`,
      source: prelude ? `${prelude.before}\n// ---- ${file}\n${body}\n${prelude.after}\n` : body,
      compileOnly: m[2] !== undefined,
    });
  }
  return out;
}

let work: string;
let app: string;
let tarball: string;
const examples: Example[] = [
  ...examplesOf("README.md", "readme"),
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .flatMap((f) => examplesOf(`docs/${f}`, f.replace(/\.md$/, ""))),
];

function npm(args: string[], cwd: string): string {
  const [cmd, pre] = NPM_CLI?.endsWith(".js") ? [process.execPath, [NPM_CLI]] : ["npm", []];
  return execFileSync(cmd, [...pre, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "revokit-pack-"));
  // dist/ is built by the global setup; pack it as it is.
  const packed = JSON.parse(
    npm(["pack", "--json", "--ignore-scripts", "--pack-destination", work], ROOT),
  ) as {
    name: string;
    filename: string;
    files: { path: string }[];
  }[];
  const info = packed[0];
  if (!info) throw new Error("npm pack printed nothing");
  tarball = join(work, info.filename);
  expect(info.name).toBe("revokit");
  expect(info.files.map((f) => f.path)).toEqual(
    expect.arrayContaining([
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli/index.js",
      "README.md",
      "docs/production.md",
    ]),
  );
  expect(info.files.some((f) => f.path.startsWith("test/") || f.path.startsWith("src/"))).toBe(false);

  app = join(work, "app");
  const modules = join(app, "node_modules");
  mkdirSync(join(modules, "revokit"), { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", join(modules, "revokit"), "--strip-components=1"]);
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry === "revokit" || entry.startsWith(".") || DEV_ONLY.has(entry)) continue;
    symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry));
  }
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "adopter", private: true, type: "module" }),
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023", "DOM"],
        types: ["node"],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        outDir: "out",
        rootDir: "examples",
      },
      include: ["examples"],
    }),
  );
  mkdirSync(join(app, "examples"));
  for (const e of examples) writeFileSync(join(app, "examples", `${e.name}.ts`), e.source);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball in a fresh app", () => {
  it("has examples in README.md and docs (the test sees them all)", () => {
    expect(examples.map((e) => e.name)).toEqual(
      expect.arrayContaining(["readme-1", "readme-2", "readme-3", "readme-4", "metrics-1", "production-1"]),
    );
  });

  it("compiles every example under strict TypeScript, the package's own types included", () => {
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], {
      cwd: app,
      encoding: "utf8",
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
    expect(tsc.status).toBe(0);
  }, 60_000);

  it("importing revokit loads no store driver and no server (storeFromUrl loads the driver it needs)", () => {
    const probe = `await import("revokit");
const { createRequire } = await import("node:module");
const loaded = Object.keys(createRequire(import.meta.url).cache);
const names = ["ioredis", "pg", "better-sqlite3", "fastify", "pino"];
const drivers = loaded.filter((p) => names.some((n) => p.includes(\`/node_modules/\${n}/\`)));
const { storeFromUrl } = await import("revokit");
await storeFromUrl("sqlite::memory:");
const after = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("better-sqlite3"));
console.log(JSON.stringify({ drivers, sqliteLoaded: after.length > 0 }));`;
    writeFileSync(join(app, "probe.mjs"), probe);
    const run = spawnSync(process.execPath, [join(app, "probe.mjs")], { cwd: app, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ drivers: [], sqliteLoaded: true });
  });

  it("runs every example to its end", () => {
    for (const e of examples.filter((x) => !x.compileOnly)) {
      const run = spawnSync(process.execPath, [join(app, "out", `${e.name}.js`)], {
        cwd: app,
        encoding: "utf8",
        timeout: 20_000,
        env: { ...process.env, REVOKIT_STORE: `sqlite:${join(app, "data", "revokit.db")}` },
      });
      expect({ example: e.name, status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({
        example: e.name,
        status: 0,
        signal: null,
        stderr: "",
      });
    }
  }, 60_000);
});
