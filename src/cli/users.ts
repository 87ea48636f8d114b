import { randomId } from "../core/ids.js";
import type { UserRecord } from "../core/model.js";
import { hashSecret } from "../server/passwords.js";
import { passwordProblem, usernameProblem } from "../server/users.js";
import { findUser, STORE_FLAGS, withAdmin } from "./admin.js";
import { badSubcommand, commandHelp, type Flags, parseCommand } from "./args.js";
import { CliError, usage } from "./errors.js";
import { promptHidden, readSecretLine } from "./input.js";
import { iso, out, printList } from "./output.js";

const FLAGS: Flags = { ...STORE_FLAGS, json: { type: "boolean", help: "print JSON (list)" } };

/** Help of `users`. */
export const USERS_HELP = commandHelp(
  `Usage: revokit users <subcommand> [options]

Manages the server's user accounts.

Subcommands:
  add NAME       create a user; the password is read from stdin (one line), or asked for on a terminal
  list           list users (--json for JSON)
  disable NAME   refuse logins and revoke every session of NAME
  enable NAME    allow NAME to log in again
  delete NAME    revoke every session of NAME and delete the account

`,
  FLAGS,
);

async function readPassword(name: string): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden(`Password for ${name}: `);
    const again = await promptHidden("Repeat the password: ");
    if (first !== again) throw new CliError("the passwords do not match");
    return first;
  }
  return readSecretLine("password");
}

function status(u: UserRecord): string {
  return u.disabledAt === null ? "active" : "disabled";
}

function oneName(positionals: string[], sub: string): string {
  if (positionals.length !== 1) throw usage(`users ${sub} takes one NAME`);
  return positionals[0] as string;
}

/** `revokit users add|list|disable|enable|delete`. */
export async function users(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, USERS_HELP, { subcommands: true });
  if (!parsed) return 0;
  const [sub, ...rest] = parsed.positionals;
  switch (sub) {
    case "add": {
      const name = oneName(rest, sub);
      const nameProblem = usernameProblem(name);
      if (nameProblem) throw usage(nameProblem);
      const password = await readPassword(name);
      const problem = passwordProblem(password);
      if (problem) throw usage(problem);
      const passwordHash = await hashSecret(password);
      return withAdmin(parsed, async ({ store }) => {
        const user: UserRecord = {
          id: randomId(),
          username: name.toLowerCase(),
          passwordHash,
          createdAt: Date.now(),
          disabledAt: null,
        };
        if ((await store.createUser(user)) === "taken")
          throw new CliError(`username taken: ${user.username}`);
        out(JSON.stringify({ user_id: user.id, username: user.username }));
        return 0;
      });
    }
    case "list": {
      if (rest.length > 0) throw usage("users list takes no arguments");
      return withAdmin(parsed, async ({ store }) => {
        const list = await store.listUsers();
        printList(
          parsed,
          list,
          (u) => ({
            user_id: u.id,
            username: u.username,
            created_at: iso(u.createdAt),
            disabled: u.disabledAt !== null,
          }),
          ["USERNAME", "USER ID", "CREATED", "STATUS"],
          (u) => [u.username, u.id, iso(u.createdAt), status(u)],
        );
        return 0;
      });
    }
    case "disable":
    case "enable":
    case "delete": {
      const name = oneName(rest, sub);
      return withAdmin(parsed, async ({ auth, store }) => {
        const user = await findUser(store, name);
        if (sub === "enable") {
          await auth.enableUser(user.id);
          out(`enabled ${user.username}`);
        } else if (sub === "disable") {
          await auth.disableUser(user.id, { actor: "admin", reason: "user_disabled" });
          out(`disabled ${user.username}; every session revoked`);
        } else {
          await auth.deleteUser(user.id, { actor: "admin", reason: "user_deleted" });
          out(`deleted ${user.username}; every session revoked`);
        }
        return 0;
      });
    }
    default:
      throw badSubcommand("users", sub, ["add", "list", "disable", "enable", "delete"]);
  }
}
