import { isRefreshTokenShape } from "../core/ids.js";
import { findUser, STORE_FLAGS, withAdmin } from "./admin.js";
import { commandHelp, type Flags, optional, parseCommand, parsePastTime } from "./args.js";
import { CliError, usage } from "./errors.js";
import { confirm, readSecretLine } from "./input.js";
import { out } from "./output.js";

const FLAGS: Flags = {
  session: {
    type: "string",
    value: "ID",
    help: "revoke one session (device): its refresh and access tokens",
  },
  user: { type: "string", value: "NAME", help: "revoke every session of a user (username or user id)" },
  token: {
    type: "string",
    value: "TOKEN",
    help: "revoke one access token (a JWT signed by this store's keys) until it expires; a refresh token: its whole session; - reads it from stdin",
  },
  jti: { type: "string", value: "ID", help: "revoke one access token by its jti" },
  before: {
    type: "string",
    value: "TIME",
    help: 'log out every user: revoke everything issued before TIME (ISO 8601, "now", or a duration ago such as "10m")',
  },
  yes: {
    type: "boolean",
    help: "confirm --before without being asked (required when stdin is not a terminal)",
  },
  issuer: {
    type: "string",
    env: "REVOKIT_ISSUER",
    value: "URL",
    help: "with --token: the token's iss must be exactly this",
  },
  reason: {
    type: "string",
    value: "TEXT",
    help: "reason recorded with the revocation (default admin_revoke)",
  },
  ...STORE_FLAGS,
};

/** Help of `revoke`. */
export const REVOKE_HELP = commandHelp(
  `Usage: revokit revoke (--session ID | --user NAME | --token JWT | --jti ID | --before TIME) [options]

Revokes at one grain; every node on the store refuses the tokens within its staleness bound.
--before logs out every user, so it asks for confirmation (or takes --yes).

`,
  FLAGS,
);

const GRAINS = ["session", "user", "token", "jti", "before"] as const;

/** `revokit revoke`. */
export async function revoke(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, REVOKE_HELP);
  if (!parsed) return 0;
  if (parsed.positionals.length > 0)
    throw usage(`revoke takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  const chosen = GRAINS.filter((g) => optional(parsed, g) !== undefined);
  if (chosen.length !== 1)
    throw usage("revoke needs exactly one of --session, --user, --token, --jti or --before");
  const grain = chosen[0] as (typeof GRAINS)[number];
  const value = optional(parsed, grain) as string;
  if (value.length === 0) throw usage(`--${grain} needs a value`);
  const reason = optional(parsed, "reason") ?? "admin_revoke";
  if (!/^[a-z0-9_.:-]{1,64}$/i.test(reason)) throw usage("--reason must be 1 to 64 letters, digits or _.:-");
  const opts = { actor: "admin", reason };
  const before = grain === "before" ? parsePastTime(value, "--before") : undefined;
  if (before && before.getTime() > Date.now()) throw usage("--before must not be in the future");
  const token = grain === "token" && value === "-" ? await readSecretLine("token") : value;
  const jws = grain === "token" && !isRefreshTokenShape(token) ? accessTokenClaims(token) : undefined;
  const issuer = optional(parsed, "issuer");
  if (jws && issuer !== undefined && jws.iss !== issuer) {
    throw new CliError(`the token was not issued by ${issuer}: nothing revoked`);
  }
  const everyone = before && {
    ask: `This logs out every user: every token and session issued before ${before.toISOString()} is refused`,
    refuse: "revoke --before logs out every user",
  };
  // Without a terminal to ask on, refuse before touching the store.
  if (everyone && parsed.values.yes !== true && !process.stdin.isTTY) await confirm(parsed, everyone);
  return withAdmin(parsed, async ({ auth, store }) => {
    if (everyone) await confirm(parsed, everyone);
    switch (grain) {
      case "session": {
        const live = await auth.getSession(value);
        if (!live) throw new CliError(`no live session ${value}`);
        await auth.logout(value, opts);
        out(`revoked session ${value}`);
        return 0;
      }
      case "user": {
        const user = await findUser(store, value);
        await auth.logoutAll(user.id, opts);
        out(`revoked every session of ${user.username}`);
        return 0;
      }
      case "token": {
        if (isRefreshTokenShape(token)) {
          const info = await auth.inspectRefreshToken(token);
          if (!info) throw new CliError("unknown refresh token");
          await auth.logout(info.session.sessionId, opts);
          out(`revoked session ${info.session.sessionId} (refresh token)`);
          return 0;
        }
        try {
          await auth.revokeAccessToken(token, opts);
        } catch (error) {
          if ((error as { code?: unknown }).code === "ERR_TOKEN_INVALID" || error instanceof TypeError) {
            throw new CliError("not an access token signed by this store's keys: nothing revoked");
          }
          throw error;
        }
        const exp = new Date((jws?.exp ?? 0) * 1000).toISOString();
        if ((jws?.exp ?? 0) * 1000 <= Date.now())
          out(`the access token expired at ${exp}: it is refused already`);
        else out(`revoked the access token until it expires (${exp})`);
        return 0;
      }
      case "jti":
        await auth.revokeAccessToken(value, opts);
        out(`revoked jti ${value}`);
        return 0;
      case "before":
        try {
          await auth.revokeIssuedBefore(before as Date, opts);
        } catch (error) {
          if (error instanceof TypeError) throw usage(`--before: ${error.message}`);
          throw error;
        }
        out(`revoked everything issued before ${(before as Date).toISOString()}`);
        return 0;
    }
  });
}

/**
 * The claims of a compact JWS, unverified (the signature is checked by `revokeAccessToken` before
 * anything is written); anything else is a usage error, so a stray string is never taken for a jti.
 */
function accessTokenClaims(token: string): { iss?: unknown; exp?: number } {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) {
    throw usage("--token must be an access token (a JWT) or a refresh token; use --jti for a token id");
  }
  try {
    const claims = JSON.parse(Buffer.from(parts[1] as string, "base64url").toString("utf8")) as unknown;
    if (typeof claims !== "object" || claims === null || Array.isArray(claims))
      throw new Error("not an object");
    const { iss, exp } = claims as { iss?: unknown; exp?: unknown };
    return { iss, exp: typeof exp === "number" ? exp : undefined };
  } catch {
    throw new CliError("not an access token signed by this store's keys: nothing revoked");
  }
}
