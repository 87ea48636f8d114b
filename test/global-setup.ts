import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Runs once before every test file: builds dist/ with tsc when it is missing or older than src/,
 * because child-process tests (nodes, the server, the CLI) load the package as built.
 */
export default function buildOnce(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const marker = join(root, "dist/cli/index.js");
  if (existsSync(marker) && statSync(marker).mtimeMs >= newest(join(root, "src"))) return;
  const result = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], {
    cwd: root,
    encoding: "utf8",
  });
  // tsc emits even past type errors (`npm run lint` reports those); what matters here is the output.
  if (!existsSync(marker)) throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}
