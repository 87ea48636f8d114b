import { randomBytes } from "node:crypto";
import { CLIENT_ID_PATTERN, DEFAULT_CLIENT, hashClientSecret } from "../server/clients.js";
import { eventOutboxFor } from "../stores/outbox/index.js";
import { STORE_FLAGS, withAdmin } from "./admin.js";
import { badSubcommand, commandHelp, type Flags, optional, parseCommand } from "./args.js";
import { CliError, usage } from "./errors.js";
import { readSecretLine } from "./input.js";
import { iso, out, printList } from "./output.js";

const FLAGS: Flags = {
  secret: {
    type: "string",
    value: "SECRET",
    help: "the client secret (add); - reads it from stdin; default: 256 random bits",
  },
  "events-url": {
    type: "string",
    value: "URL",
    help: "(add) push security events (RFC 8935) for this client to URL",
  },
  json: { type: "boolean", help: "print JSON (list)" },
  ...STORE_FLAGS,
};

/** Help of `clients`. */
export const CLIENTS_HELP = commandHelp(
  `Usage: revokit clients <subcommand> [options]

Manages confidential OAuth clients (resource servers that introspect or revoke tokens).

Subcommands:
  add ID [--secret S] [--events-url URL]
                        create a client; prints {"client_id": ..., "client_secret": ...} once;
                        with --events-url, the server pushes it security events (session revoked,
                        credential changed) as signed Security Event Tokens
  list                  list clients (--json for JSON)
  remove ID             delete a client

`,
  FLAGS,
);

/** Printable ASCII (RFC 6749 VSCHAR), 1 to 512 characters. */
const SECRET_PATTERN = /^[\x20-\x7e]{1,512}$/;

/** `revokit clients add|list|remove`. */
export async function clients(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, CLIENTS_HELP, { subcommands: true });
  if (!parsed) return 0;
  const [sub, ...rest] = parsed.positionals;
  switch (sub) {
    case "add": {
      if (rest.length !== 1) throw usage("clients add takes one ID");
      const id = rest[0] as string;
      if (!CLIENT_ID_PATTERN.test(id)) {
        throw usage("client ID must be 1 to 128 letters, digits or ._~+/=@!- (no spaces or colons)");
      }
      if (id === DEFAULT_CLIENT) throw usage(`"${DEFAULT_CLIENT}" is the built-in public client`);
      const given = optional(parsed, "secret");
      const secret =
        given === undefined
          ? randomBytes(32).toString("base64url")
          : given === "-"
            ? await readSecretLine("secret")
            : given;
      if (!SECRET_PATTERN.test(secret)) throw usage("the secret must be 1 to 512 printable ASCII characters");
      const eventsUrl = optional(parsed, "events-url");
      if (eventsUrl !== undefined && !isHttpUrl(eventsUrl))
        throw usage("--events-url must be an http(s) URL");
      const secretHash = hashClientSecret(secret);
      return withAdmin(parsed, async ({ store }) => {
        const result = await store.addClient({ clientId: id, secretHash, createdAt: Date.now() });
        if (result === "exists") throw new CliError(`client already exists: ${id}`);
        if (eventsUrl !== undefined) {
          const outbox = eventOutboxFor(store);
          await outbox.init();
          await outbox.setReceiver(id, eventsUrl, Date.now());
        }
        out(JSON.stringify({ client_id: id, client_secret: secret }));
        return 0;
      });
    }
    case "list": {
      if (rest.length > 0) throw usage("clients list takes no arguments");
      return withAdmin(parsed, async ({ store }) => {
        const list = await store.listClients();
        printList(
          parsed,
          list,
          (c) => ({
            client_id: c.clientId,
            confidential: c.secretHash !== null,
            created_at: iso(c.createdAt),
          }),
          ["CLIENT ID", "TYPE", "CREATED"],
          (c) => [c.clientId, c.secretHash === null ? "public" : "confidential", iso(c.createdAt)],
        );
        return 0;
      });
    }
    case "remove": {
      if (rest.length !== 1) throw usage("clients remove takes one ID");
      const id = rest[0] as string;
      return withAdmin(parsed, async ({ store }) => {
        if (!(await store.removeClient(id))) throw new CliError(`no such client: ${id}`);
        // Its security events stop too.
        const outbox = eventOutboxFor(store);
        await outbox.init();
        await outbox.setReceiver(id, null, Date.now());
        out(`removed client ${id}`);
        return 0;
      });
    }
    default:
      throw badSubcommand("clients", sub, ["add", "list", "remove"]);
  }
}

/** Whether `value` is an absolute http(s) URL. */
function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
