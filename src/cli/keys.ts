import {
  badSubcommand,
  commandHelp,
  type Flags,
  iso,
  optional,
  out,
  parseCommand,
  parseTime,
  printList,
  STORE_FLAGS,
  usage,
  withAdmin,
} from "./common.js";

const FLAGS: Flags = {
  "activate-at": {
    type: "string",
    value: "TIME",
    help: 'rotate: sign with the new key from TIME (ISO 8601, "now", or a duration from now); default now',
  },
  json: { type: "boolean", help: "print JSON (list)" },
  ...STORE_FLAGS,
};

/** Help of `keys`. */
export const KEYS_HELP = commandHelp(
  `Usage: revokit keys <subcommand> [options]

Manages signing keys. They live in the store, so every node shares them.

Subcommands:
  list     list keys: kid, algorithm, creation, activation, state
  rotate   publish a new key at once; every node signs with it within 10 s, or from --activate-at.
           Old public keys stay published until every token they signed has expired.

`,
  FLAGS,
);

/** `revokit keys list|rotate`. */
export async function keys(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, KEYS_HELP, { subcommands: true });
  if (!parsed) return 0;
  const [sub, ...rest] = parsed.positionals;
  if (rest.length > 0) throw usage(`keys ${sub ?? ""} takes no arguments`.replace("  ", " "));
  switch (sub) {
    case "list":
      return withAdmin(parsed, async (auth) => {
        const stored = await auth.store.listKeys();
        const status = auth.status();
        const now = Date.now();
        const rows = stored.map((k) => {
          const signing = status.keys.find((s) => s.kid === k.kid)?.signing ?? false;
          const state = signing ? "signing" : k.activateAt > now ? "pending" : "published";
          return {
            kid: k.kid,
            alg: k.alg,
            created_at: iso(k.createdAt),
            activate_at: iso(k.activateAt),
            state,
          };
        });
        printList(
          parsed,
          rows,
          (r) => r,
          ["KID", "ALG", "CREATED", "ACTIVATES", "STATE"],
          (r) => Object.values(r),
        );
        return 0;
      });
    case "rotate": {
      const at = optional(parsed, "activate-at");
      const activateAt = at === undefined ? undefined : parseTime(at, "--activate-at");
      return withAdmin(parsed, async (auth) => {
        const key = await auth.rotateKeys(activateAt ? { activateAt } : {});
        out(
          JSON.stringify({
            kid: key.kid,
            alg: auth.algorithm,
            activate_at: key.activateAt.toISOString(),
          }),
        );
        return 0;
      });
    }
    default:
      throw badSubcommand("keys", sub, ["list", "rotate"]);
  }
}
