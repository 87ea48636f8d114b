import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** Every HTTP error code the server or the middleware can answer is in docs/http-api.md's table. */

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(join(root, "docs/http-api.md"), "utf8");

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"));
}

const pairs = new Set<string>();
for (const text of sources("src/server")) {
  for (const m of text.matchAll(/ApiError\(\s*(\d{3}),\s*"([a-z_]+)"/g)) pairs.add(`${m[1]} ${m[2]}`);
}
const core = readFileSync(join(root, "src/core/http-errors.ts"), "utf8");
for (const m of core.matchAll(/status: (\d{3}),[\s\S]*?error: "([a-z_]+)"/g)) pairs.add(`${m[1]} ${m[2]}`);

describe("HTTP error codes", () => {
  it("finds the codes it checks (the scan itself works)", () => {
    expect(pairs.size).toBeGreaterThanOrEqual(12);
    expect(pairs).toContain("401 invalid_token");
    expect(pairs).toContain("409 username_taken");
  });

  it.each([...pairs].sort())("%s is documented in docs/http-api.md", (pair) => {
    const [status, code] = pair.split(" ");
    expect(doc).toMatch(new RegExp(`\\| ${status} \\| \`${code}\` \\|`));
  });
});
