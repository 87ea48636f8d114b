/**
 * The `revokit` CLI as a user runs it: admin commands on the SQLite file a running server uses.
 * The server (another process) sees every change through the store: users, clients, revocations
 * and keys.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CliResult, runCli, type ServeProcess, startServe } from "../fixtures/server-harness.js";
import { eventually } from "../helpers/eventually.js";

const PASSWORD = "the password of alice";

let dir: string;
let store: string;
let server: ServeProcess;

const cli = (args: string[], input?: string): Promise<CliResult> =>
  runCli(args, { input, env: { REVOKIT_STORE: store } });

/** Exit 0, nothing on stderr. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await cli(args, input);
  expect(r.stderr, `revokit ${args.join(" ")}`).toBe("");
  expect(r.code, `revokit ${args.join(" ")}`).toBe(0);
  return r.stdout;
}

/** A non-zero exit with exactly one clear line on stderr. */
async function fails(args: string[], code: number, message: RegExp, input?: string): Promise<void> {
  const r = await cli(args, input);
  expect(r.code, `revokit ${args.join(" ")}`).toBe(code);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^revokit: /);
  expect(lines[0]).toMatch(message);
  expect(r.stdout).toBe("");
}

async function login(username: string, password = PASSWORD): Promise<Response> {
  return fetch(`${server.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
}

async function tokens(username: string, password = PASSWORD) {
  const res = await login(username, password);
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string; session_id: string };
}

const me = (accessToken: string) =>
  fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });

function kidOf(jwt: string): string {
  const header = JSON.parse(Buffer.from(jwt.split(".")[0] as string, "base64url").toString()) as {
    kid: string;
  };
  return header.kid;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "revokit-cli-"));
  store = `sqlite:${join(dir, "auth.db")}`;
  // Only init (or serve) creates a store; admin commands then work before any server runs.
  expect(await ok(["init"])).toMatch(/^created the store at sqlite:/);
  expect(await ok(["init"])).toMatch(/already exists: nothing changed/);
  await ok(["users", "add", "alice"], `${PASSWORD}\n`);
  // The admin commands' issuer (the default one): a refresh token is bound to its issuer and audience.
  server = await startServe(["--store", store, "--issuer", "http://127.0.0.1:3000"]);
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("revokit users", () => {
  it("users add reads the password from stdin; the server logs the user in", async () => {
    const added = JSON.parse(await ok(["users", "add", "Bob"], "bob's secret pass\n")) as Record<
      string,
      string
    >;
    expect(added).toEqual({ user_id: expect.any(String), username: "bob" });
    expect((await login("bob", "bob's secret pass")).status).toBe(200);
    expect((await login("alice")).status).toBe(200);
  });

  it("refuses bad input with one line and a non-zero exit", async () => {
    await fails(["users", "add", "alice"], 1, /taken/, `${PASSWORD}\n`);
    await fails(["users", "add", "x"], 2, /username/, `${PASSWORD}\n`);
    await fails(["users", "add", "carol"], 2, /password must be 8 to 256 characters/, "short\n");
    await fails(["users", "add", "carol"], 2, /no password on stdin/, "");
    await fails(["users", "add", "carol", "--password", "inline"], 2, /Unknown option '--password'/);
    await fails(["users", "add"], 2, /one NAME/);
    await fails(["users", "frobnicate"], 2, /unknown users subcommand/);
    await fails(["users", "disable", "nobody"], 1, /no such user: nobody/);
  });

  it("users list, disable, enable and delete", async () => {
    const list = JSON.parse(await ok(["users", "list", "--json"])) as {
      username: string;
      disabled: boolean;
    }[];
    expect(list.map((u) => u.username)).toEqual(["alice", "bob"]);
    expect(await ok(["users", "list"])).toMatch(/^USERNAME\s+USER ID\s+CREATED\s+STATUS\n(alice|bob)\s/);

    const bob = await tokens("bob", "bob's secret pass");
    expect(await ok(["users", "disable", "bob"])).toMatch(/disabled bob; every session revoked/);
    const refused = await login("bob", "bob's secret pass");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe("account_disabled");
    await eventually(
      "the disabled user's token refused",
      async () => (await me(bob.access_token)).status === 401,
    );

    await ok(["users", "enable", "bob"]);
    expect((await login("bob", "bob's secret pass")).status).toBe(200);
    expect(await ok(["users", "delete", "BOB"])).toMatch(/deleted bob/);
    expect((await login("bob", "bob's secret pass")).status).toBe(401);
  });
});

describe("revokit sessions and revoke", () => {
  it("sessions lists a user's devices; revoke --user ends them on the running server", async () => {
    const a = await tokens("alice");
    const b = await tokens("alice");
    const listed = JSON.parse(await ok(["sessions", "alice", "--json"])) as { session_id: string }[];
    expect(listed.map((s) => s.session_id)).toEqual(expect.arrayContaining([a.session_id, b.session_id]));
    expect(await ok(["sessions", "alice"])).toMatch(
      /^SESSION ID\s+CREATED\s+LAST USED\s+EXPIRES\s+IP\s+USER AGENT\n/,
    );

    expect(await ok(["revoke", "--user", "alice"])).toMatch(/revoked every session of alice/);
    await eventually(
      "both devices refused",
      async () => (await me(a.access_token)).status === 401 && (await me(b.access_token)).status === 401,
    );
    expect(JSON.parse(await ok(["sessions", "alice", "--json"]))).toEqual([]);
    expect((await login("alice")).status).toBe(200);
  });

  it("revoke --session, --token (stdin too), --jti and --before", async () => {
    const one = await tokens("alice");
    // Ids may start with "-": the --flag=VALUE form always works.
    await ok(["revoke", `--session=${one.session_id}`]);
    await eventually("session refused", async () => (await me(one.access_token)).status === 401);
    await fails(["revoke", `--session=${one.session_id}`], 1, /no live session/);
    await fails(["revoke", "--session", "-abc"], 2, /write it as --session=VALUE/);

    const two = await tokens("alice");
    await ok(["revoke", "--token", "-"], `${two.access_token}\n`);
    await eventually("token refused", async () => (await me(two.access_token)).status === 401);

    const three = await tokens("alice");
    const jti = JSON.parse(Buffer.from(three.access_token.split(".")[1] as string, "base64url").toString())
      .jti as string;
    await ok(["revoke", `--jti=${jti}`]);
    await eventually("jti refused", async () => (await me(three.access_token)).status === 401);

    const four = await tokens("alice");
    await ok(["revoke", `--token=${four.refresh_token}`]);
    await eventually(
      "refresh token's session refused",
      async () => (await me(four.access_token)).status === 401,
    );

    const five = await tokens("alice");
    await new Promise((r) => setTimeout(r, 1100));
    // Logging out every user needs a confirmation; without a terminal, --yes.
    await fails(["revoke", "--before", "now"], 2, /logs out every user.*add --yes/);
    expect((await me(five.access_token)).status).toBe(200);
    // A duration means that long ago: ten minutes ago is before every token here.
    expect(await ok(["revoke", "--before", "10m", "--yes"])).toMatch(/revoked everything issued before/);
    expect((await me(five.access_token)).status).toBe(200);
    await ok(["revoke", "--before", "now", "--yes"]);
    await eventually("everything older refused", async () => (await me(five.access_token)).status === 401);
    const after = await tokens("alice");
    expect((await me(after.access_token)).status).toBe(200);
  });

  it("refuses bad revoke input", async () => {
    await fails(["revoke"], 2, /exactly one of/);
    await fails(["revoke", "--user", "alice", "--jti", "x"], 2, /exactly one of/);
    await fails(["revoke", "--before", "yesterday"], 2, /--before must be an ISO 8601 time/);
    await fails(["revoke", "--token", "not.a.jwt"], 1, /not an access token/);
    await fails(["revoke", "--token", "no-dots-at-all"], 2, /--token must be an access token \(a JWT\)/);
    await fails(["revoke", "--before", "1h", "--yes", "--before", "in 1h"], 2, /--before must be/);
    // A well-formed JWT signed by a key that is not the store's is refused, and nothing is written.
    const { generateKeyPairSync, sign } = await import("node:crypto");
    const { privateKey } = generateKeyPairSync("ed25519");
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const real = await tokens("alice");
    const header = JSON.parse(Buffer.from(real.access_token.split(".")[0] as string, "base64url").toString());
    const claims = JSON.parse(Buffer.from(real.access_token.split(".")[1] as string, "base64url").toString());
    const input = `${b64(header)}.${b64({ ...claims, jti: "forged" })}`;
    const forged = `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
    await fails(["revoke", "--token", forged], 1, /not an access token signed by this store's keys/);
    const status = JSON.parse(await ok(["status", "--json"])) as { revocations?: unknown };
    expect(JSON.stringify(status)).not.toContain("forged");
    // A token of another issuer is refused when the issuer is known.
    await fails(
      ["revoke", "--token", real.access_token, "--issuer", "https://elsewhere.example"],
      1,
      /not issued by https:\/\/elsewhere.example/,
    );
    expect((await me(real.access_token)).status).toBe(200);
    await fails(["revoke", "--user", "nobody"], 1, /no such user/);
    await fails(["revoke", "--jti", "x", "--store", "ftp://nowhere"], 2, /--store/);
  });
});

describe("revoke --before on a terminal", () => {
  // util-linux `script` gives the command a pseudo-terminal, as a person at a shell has.
  const hasScript = spawnSync("script", ["--version"]).status === 0;
  it.skipIf(!hasScript && !process.env.CI)("asks first: anything but yes cancels, yes revokes", async () => {
    const onTty = async (answer: string) => {
      const child = spawn(
        "script",
        [
          "-qec",
          `${process.execPath} ${CLI} revoke --before now --store sqlite:${join(dir, "auth.db")}`,
          "/dev/null",
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let out = "";
      let answered = false;
      child.stdin.on("error", () => undefined); // the command may end before it reads the answer
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (!answered && out.includes('Type "yes"')) {
          answered = true;
          child.stdin.write(`${answer}\r`);
        }
      });
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      return { code, out };
    };
    const t = await tokens("alice");
    const no = await onTty("no");
    expect(no.out).toMatch(/This logs out every user/);
    expect(no.out).toMatch(/cancelled: nothing was revoked/);
    expect(no.code).toBe(1);
    expect((await me(t.access_token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const yes = await onTty("yes");
    expect(yes.out).toMatch(/revoked everything issued before/);
    expect(yes.code).toBe(0);
    await eventually("everything older refused", async () => (await me(t.access_token)).status === 401);
  });
});

describe("admin commands never create a store", () => {
  it("a mistyped SQLite path or memory: fails with one line and creates nothing; init creates", async () => {
    const typo = join(dir, "typo", "revokit.db");
    for (const args of [
      ["users", "list"],
      ["revoke", "--before", "now", "--yes"],
      ["status"],
      ["sessions", "alice"],
    ]) {
      await fails(
        [...args, "--store", `sqlite:${typo}`],
        1,
        /no sqlite store at .*nothing was created.*revokit init/,
      );
    }
    expect(existsSync(join(dir, "typo"))).toBe(false);
    // An empty file is not an initialised store either, and is left as it was.
    writeFileSync(join(dir, "empty.db"), "");
    await fails(["users", "list", "--store", `sqlite:${join(dir, "empty.db")}`], 1, /not an initialised/);
    expect(readFileSync(join(dir, "empty.db")).length).toBe(0);
    await fails(["users", "list", "--store", "memory:"], 2, /memory: is a new, empty store/);
    await fails(["init", "--store", "memory:"], 2, /nothing to initialise/);

    expect(await ok(["init", "--store", `sqlite:${typo}`])).toMatch(/created the store/);
    expect(await ok(["users", "list", "--json", "--store", `sqlite:${typo}`])).toBe("[]\n");
  });
});

describe("revokit clients", () => {
  it("clients add prints the secret once; the server authenticates the client; remove ends it", async () => {
    const made = JSON.parse(await ok(["clients", "add", "api-gateway"])) as Record<string, string>;
    expect(Object.keys(made)).toEqual(["client_id", "client_secret"]);
    expect(made.client_id).toBe("api-gateway");
    expect(made.client_secret?.length).toBeGreaterThanOrEqual(43);
    const given = JSON.parse(await ok(["clients", "add", "billing", "--secret", "chosen-secret"])) as Record<
      string,
      string
    >;
    expect(given).toEqual({ client_id: "billing", client_secret: "chosen-secret" });

    const t = await tokens("alice");
    const introspect = (id: string, secret: string) =>
      fetch(`${server.url}/oauth/introspect`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: t.access_token, client_id: id, client_secret: secret }).toString(),
      });
    const res = await introspect("api-gateway", made.client_secret as string);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { active: boolean }).active).toBe(true);
    expect((await introspect("billing", "chosen-secret")).status).toBe(200);

    const listed = JSON.parse(await ok(["clients", "list", "--json"])) as {
      client_id: string;
      confidential: boolean;
    }[];
    expect(listed).toEqual([
      expect.objectContaining({ client_id: "api-gateway", confidential: true }),
      expect.objectContaining({ client_id: "billing", confidential: true }),
    ]);
    expect(await ok(["clients", "list"])).not.toContain(made.client_secret);

    await ok(["clients", "remove", "billing"]);
    expect((await introspect("billing", "chosen-secret")).status).toBe(401);
    await fails(["clients", "remove", "billing"], 1, /no such client/);
    await fails(["clients", "add", "api-gateway"], 1, /already exists/);
    await fails(["clients", "add", "default"], 2, /built-in public client/);
    await fails(["clients", "add", "has:colon"], 2, /client ID/);
  });
});

describe("revokit keys and status", () => {
  it("keys rotate: published at once, signing after a 10 minute lead, or at once with --now", async () => {
    const before = JSON.parse(await ok(["keys", "list", "--json"])) as { kid: string; state: string }[];
    expect(before.filter((k) => k.state === "signing")).toHaveLength(1);
    const ahead = JSON.parse(await ok(["keys", "rotate"])) as {
      kid: string;
      alg: string;
      activate_at: string;
    };
    expect(ahead.alg).toBe("RS256");
    const lead = Date.parse(ahead.activate_at) - Date.now();
    expect(lead).toBeGreaterThan(9 * 60_000);
    expect(lead).toBeLessThanOrEqual(10 * 60_000);
    const listed = JSON.parse(await ok(["keys", "list", "--json"])) as { kid: string; state: string }[];
    expect(listed.find((k) => k.kid === ahead.kid)?.state).toBe("pending");
    const rotated = JSON.parse(await ok(["keys", "rotate", "--now"])) as {
      kid: string;
      alg: string;
      activate_at: string;
    };
    expect(rotated.alg).toBe("RS256");
    const after = JSON.parse(await ok(["keys", "list", "--json"])) as { kid: string; state: string }[];
    expect(after.find((k) => k.kid === rotated.kid)?.state).toBe("signing");
    expect(after).toHaveLength(before.length + 2);

    let t = await tokens("alice");
    await eventually(
      "the server signs with the new key",
      async () => {
        const res = await fetch(`${server.url}/auth/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: t.refresh_token }),
        });
        t = (await res.json()) as typeof t;
        return kidOf(t.access_token) === rotated.kid;
      },
      15_000,
    );
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    const kids = jwks.keys.map((k) => k.kid);
    expect(kids).toContain(rotated.kid);
    for (const old of before) expect(kids).toContain(old.kid);
    expect((await me(t.access_token)).status).toBe(200);

    const later = JSON.parse(await ok(["keys", "rotate", "--activate-at", "1h"])) as {
      kid: string;
      activate_at: string;
    };
    expect(Date.parse(later.activate_at)).toBeGreaterThan(Date.now() + 3_000_000);
    const pending = JSON.parse(await ok(["keys", "list", "--json"])) as { kid: string; state: string }[];
    expect(pending.find((k) => k.kid === later.kid)?.state).toBe("pending");
    await fails(["keys", "rotate", "--activate-at", "whenever"], 2, /--activate-at/);
    await fails(["keys", "rotate", "--now", "--activate-at", "1h"], 2, /--now or --activate-at/);
    await fails(["keys", "revoke"], 2, /one KID/);
    await fails(["keys", "revoke", "no-such-kid"], 1, /no such key/);

    // keys revoke: the running server refuses every token the key signed at once, and signs with a new key.
    expect((await me(t.access_token)).status).toBe(200);
    const withdrawn = JSON.parse(await ok(["keys", "revoke", rotated.kid])) as {
      kid: string;
      replaced_by: { kid: string } | null;
    };
    expect(withdrawn.kid).toBe(rotated.kid);
    const replacement = withdrawn.replaced_by?.kid as string;
    expect(replacement).toBeTruthy();
    await eventually(
      "the server refuses the withdrawn key's tokens",
      async () => (await me(t.access_token)).status === 401,
      2_000,
    );
    const keysNow = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(keysNow.keys.map((k) => k.kid)).not.toContain(rotated.kid);
    let chain = await tokens("alice");
    await eventually(
      "the server signs with the replacement key",
      async () => {
        const res = await fetch(`${server.url}/auth/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: chain.refresh_token }),
        });
        chain = (await res.json()) as typeof chain;
        expect(kidOf(chain.access_token)).not.toBe(rotated.kid);
        return kidOf(chain.access_token) === replacement;
      },
      10_000,
    );
    expect((await me(chain.access_token)).status).toBe(200);
    await fails(["keys", "spin"], 2, /unknown keys subcommand/);
  });

  it("status reports the store, revocations, keys, users and clients", async () => {
    const text = await ok(["status"]);
    expect(text).toMatch(/^store:\s+sqlite sqlite:/m);
    expect(text).toMatch(/^keys:\s+\d+ \(signing: /m);
    const report = JSON.parse(await ok(["status", "--json"])) as {
      store: { kind: string };
      revocations: { sessions: number; tokens: number; global_cutoff: string | null };
      users: { total: number };
      clients: number;
      keys: unknown[];
    };
    expect(report.store.kind).toBe("sqlite");
    expect(report.revocations.sessions).toBeGreaterThan(0);
    expect(report.revocations.tokens).toBeGreaterThan(0);
    expect(report.revocations.global_cutoff).not.toBeNull();
    expect(report.users.total).toBe(1);
    expect(report.clients).toBe(1);
  });
});

describe("help and usage", () => {
  it("--help everywhere, exit 0", async () => {
    for (const args of [
      ["--help"],
      ["serve", "--help"],
      ["users", "--help"],
      ["sessions", "--help"],
      ["revoke", "--help"],
      ["clients", "--help"],
      ["keys", "--help"],
      ["status", "--help"],
      ["init", "--help"],
    ]) {
      const out = await ok(args);
      expect(out, args.join(" ")).toMatch(/^Usage: revokit/);
    }
    const serveHelp = await ok(["serve", "--help"]);
    for (const flag of ["--store", "--issuer", "--no-register", "--fail-mode", "REVOKIT_STORE", "PORT"]) {
      expect(serveHelp).toContain(flag);
    }
    // The help says what --before accepts, and no help cites a document the package does not ship.
    expect(await ok(["revoke", "--help"])).toMatch(/duration ago such as "10m"/);
    for (const args of [["--help"], ["serve", "--help"], ["revoke", "--help"], ["init", "--help"]]) {
      expect(await ok(args)).not.toMatch(/SPEC|§/);
    }
  });

  it("unknown commands and bad serve flags exit non-zero with one line", async () => {
    await fails(["frob"], 2, /unknown command "frob"/);
    await fails(["serve", "--port", "http"], 2, /--port must be an integer/);
    await fails(["serve", "--fail-mode", "sideways"], 2, /--fail-mode/);
    await fails(["serve", "--access-token-ttl", "soon"], 2, /--access-token-ttl/);
    await fails(["serve", "--algorithm", "none"], 2, /--algorithm/);
    await fails(["serve", "--store", "mysql://x"], 2, /--store/);
    await fails(["serve", "--bogus"], 2, /Unknown option '--bogus'/);
    const r = await runCli(["serve"], { env: { REVOKIT_STORE: store, PORT: "not-a-port" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^revokit: --port must be an integer/);
  });
});
