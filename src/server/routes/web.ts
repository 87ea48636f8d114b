import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { notFound } from "../api-error.js";
import type { ServerContext } from "../context.js";

/** The page's policy: nothing inline, nothing from elsewhere. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** Shown at `/` when the package has no `web/index.html`. */
const FALLBACK_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>revokit</title></head>
<body>
<h1>revokit</h1>
<p>This is a revokit authentication server: JWT access tokens, rotating refresh tokens, and logout that works.</p>
<p>API: <a href="/.well-known/oauth-authorization-server">server metadata</a>,
<a href="/.well-known/jwks.json">public keys</a>, <a href="/healthz">health</a>, <a href="/metrics">metrics</a>.</p>
</body>
</html>
`;

/** A segment of an asset path: no dot files, no `..`, no separators or odd characters. */
const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

async function readIfFile(url: URL): Promise<Buffer | null> {
  try {
    const path = fileURLToPath(url);
    if (!(await stat(path)).isFile()) return null;
    return await readFile(path);
  } catch {
    return null;
  }
}

function page(reply: FastifyReply): FastifyReply {
  return reply.header("content-security-policy", PAGE_CSP).header("cache-control", "no-cache");
}

/** `GET /`: the web page, and `GET /assets/*`: its scripts and styles, under a strict CSP. */
export const webRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.get("/", async (_request, reply) => {
    const html = await readIfFile(new URL("index.html", ctx.webRoot));
    return page(reply)
      .type("text/html; charset=utf-8")
      .send(html ?? FALLBACK_PAGE);
  });

  app.get<{ Params: { "*": string } }>("/assets/*", async (request, reply) => {
    const rest = request.params["*"];
    const segments = rest.split("/");
    const type = TYPES[extname(rest).toLowerCase()];
    if (rest.length > 256 || !type || !segments.every((s) => SAFE_SEGMENT.test(s))) throw notFound();
    const body = await readIfFile(new URL(`assets/${segments.join("/")}`, ctx.webRoot));
    if (!body) throw notFound();
    return page(reply).type(type).send(body);
  });
};
