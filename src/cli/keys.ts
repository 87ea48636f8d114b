import { parseDuration } from "../core/duration.js";
import { STORE_FLAGS, withAdmin } from "./admin.js";
import {
  badSubcommand,
  commandHelp,
  type Flags,
  optional,
  type Parsed,
  parseCommand,
  parseTime,
} from "./args.js";
import { CliError, usage } from "./errors.js";
import { iso, out, printList } from "./output.js";

const FLAGS: Flags = {
  now: {
    type: "boolean",
    help: "rotate: sign with the new key at once (an emergency: resource servers that cached the JWKS may refuse its tokens for a while)",
  },
  "activate-at": {
    type: "string",
    value: "TIME",
    help: 'rotate: sign with the new key from TIME (ISO 8601, "now", or a duration from now); default: after the publication lead',
  },
  lead: {
    type: "string",
    value: "DURATION",
    help: "rotate: how long the new key is published before it signs; default 10m",
  },
  json: { type: "boolean", help: "print JSON (list)" },
  ...STORE_FLAGS,
};

/** Help of `keys`. */
export const KEYS_HELP = commandHelp(
  `Usage: revokit keys <subcommand> [options]

Manages signing keys. They live in the store, so every node shares them.

Subcommands:
  list         list keys: kid, algorithm, creation, activation, state
  rotate       publish a new key at once and sign with it after a publication lead (default 10
               minutes), so resource servers that cache the JWKS know it before its first token.
               --now signs with it at once; --activate-at TIME at a given time.
               Old public keys stay published until every token they signed has expired.
  revoke KID   withdraw a key (leaked or no longer trusted): every token it signed is refused on
               every node at once, it leaves the JWKS, and a new key signs at once if it was signing.

`,
  FLAGS,
);

/** `revokit keys list|rotate|revoke`. */
export async function keys(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, KEYS_HELP, { subcommands: true });
  if (!parsed) return 0;
  const [sub, ...rest] = parsed.positionals;
  if (sub === "revoke") return revoke(parsed, rest);
  if (rest.length > 0) throw usage(`keys ${sub ?? ""} takes no arguments`.replace("  ", " "));
  switch (sub) {
    case "list":
      return withAdmin(parsed, async ({ auth, store }) => {
        const stored = await store.listKeys();
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
      const immediate = parsed.values.now === true;
      if (immediate && at !== undefined) throw usage("give --now or --activate-at, not both");
      const lead = optional(parsed, "lead");
      if (lead !== undefined && (immediate || at !== undefined))
        throw usage("--lead cannot be combined with --now or --activate-at");
      let activateAt = at === undefined ? undefined : parseTime(at, "--activate-at");
      if (lead !== undefined) {
        let ms: number;
        try {
          ms = parseDuration(lead, "--lead");
        } catch {
          throw usage(`--lead must be a duration such as 10m, not ${JSON.stringify(lead)}`);
        }
        activateAt = new Date(Date.now() + ms);
      }
      return withAdmin(parsed, async ({ auth }) => {
        const key = await auth.rotateKeys(activateAt ? { activateAt } : { immediate });
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
      throw badSubcommand("keys", sub, ["list", "rotate", "revoke"]);
  }
}

/** `revokit keys revoke KID`. */
async function revoke(parsed: Parsed, rest: string[]): Promise<number> {
  if (rest.length !== 1) throw usage("keys revoke takes one KID");
  const kid = rest[0] as string;
  if (!/^[\x21-\x7e]{1,256}$/.test(kid)) throw usage("KID must be 1 to 256 printable characters");
  return withAdmin(parsed, async ({ auth }) => {
    const result = await auth.revokeKey(kid, { actor: "admin", reason: "key_withdrawn" });
    if (!result) throw new CliError(`no such key: ${kid}`);
    out(
      JSON.stringify({
        kid: result.kid,
        withdrawn: true,
        replaced_by: result.replacedBy
          ? { kid: result.replacedBy.kid, activate_at: result.replacedBy.activateAt.toISOString() }
          : null,
      }),
    );
    return 0;
  });
}
