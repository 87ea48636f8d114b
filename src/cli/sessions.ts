import { findUser, STORE_FLAGS, withAdmin } from "./admin.js";
import { commandHelp, type Flags, parseCommand } from "./args.js";
import { usage } from "./errors.js";
import { iso, printList } from "./output.js";

const FLAGS: Flags = { ...STORE_FLAGS, json: { type: "boolean", help: "print JSON" } };

/** Help of `sessions`. */
export const SESSIONS_HELP = commandHelp(
  `Usage: revokit sessions USER [options]

Lists the live sessions (devices) of USER (a username or user id), newest first.

`,
  FLAGS,
);

/** `revokit sessions USER`. */
export async function sessions(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, SESSIONS_HELP);
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw usage("sessions takes one USER (see revokit sessions --help)");
  const name = parsed.positionals[0] as string;
  return withAdmin(parsed, async ({ auth, store }) => {
    const user = await findUser(store, name);
    const list = await auth.listSessions(user.id);
    printList(
      parsed,
      list,
      (s) => ({
        session_id: s.sessionId,
        client_id: s.clientId,
        created_at: iso(s.createdAt),
        last_used_at: iso(s.lastUsedAt),
        expires_at: iso(s.expiresAt),
        user_agent: s.userAgent,
        ip: s.ip,
      }),
      ["SESSION ID", "CREATED", "LAST USED", "EXPIRES", "IP", "USER AGENT"],
      (s) => [
        s.sessionId,
        iso(s.createdAt),
        iso(s.lastUsedAt),
        iso(s.expiresAt),
        s.ip ?? "-",
        s.userAgent ?? "-",
      ],
    );
    return 0;
  });
}
