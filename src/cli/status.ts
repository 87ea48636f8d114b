import { DEFAULT_STORE_URL, redactStoreUrl } from "../stores/url.js";
import { STORE_FLAGS, withAdmin } from "./admin.js";
import { commandHelp, type Flags, optional, parseCommand } from "./args.js";
import { usage } from "./errors.js";
import { iso, out } from "./output.js";

const FLAGS: Flags = { ...STORE_FLAGS, json: { type: "boolean", help: "print JSON" } };

/** Help of `status`. */
export const STATUS_HELP = commandHelp(
  `Usage: revokit status [options]

Shows the store, the active revocations, the keys, and how many users and clients there are.

`,
  FLAGS,
);

/** `revokit status`. */
export async function status(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, STATUS_HELP);
  if (!parsed) return 0;
  if (parsed.positionals.length > 0) throw usage("status takes no arguments");
  return withAdmin(parsed, async ({ auth, store }) => {
    const s = auth.status();
    const users = await store.listUsers();
    const clients = await store.listClients();
    const report = {
      store: {
        kind: store.kind,
        url: redactStoreUrl(optional(parsed, "store") ?? DEFAULT_STORE_URL),
        durable: store.durable,
      },
      revocations: {
        tokens: s.replica.tokens,
        sessions: s.replica.sessions,
        global_cutoff: s.replica.globalCutoff > 0 ? iso(s.replica.globalCutoff) : null,
      },
      replica: { fresh: s.replica.fresh, lag_ms: s.replica.lagMs },
      keys: s.keys.map((k) => ({
        kid: k.kid,
        alg: k.alg,
        activate_at: iso(k.activateAt),
        signing: k.signing,
      })),
      users: { total: users.length, disabled: users.filter((u) => u.disabledAt !== null).length },
      clients: clients.length,
    };
    if (parsed.values.json) {
      out(JSON.stringify(report));
      return 0;
    }
    const signing = report.keys.find((k) => k.signing);
    out(
      `store:       ${report.store.kind} ${report.store.url}${report.store.durable ? "" : " (not durable)"}`,
    );
    out(
      `revocations: ${report.revocations.tokens} token(s), ${report.revocations.sessions} session(s), global cutoff ${report.revocations.global_cutoff ?? "none"}`,
    );
    out(
      `keys:        ${report.keys.length} (signing: ${signing ? `${signing.kid} ${signing.alg}` : "none"})`,
    );
    out(`users:       ${report.users.total} (${report.users.disabled} disabled)`);
    out(`clients:     ${report.clients}`);
    return 0;
  });
}
