import type { FastifyPluginAsync } from "fastify";
import { STATUS_LIST_MEDIA_TYPE } from "../../core/status-list.js";
import { notFound, unavailable } from "../api-error.js";
import type { ServerContext } from "../context.js";
import { STATUS_LIST_TTL_SEC, STATUS_PATH } from "../status-lists.js";

/**
 * `GET /statuslists/{n}`: a Token Status List (draft-ietf-oauth-status-list) as a signed Status List
 * Token (`application/statuslist+jwt`), public like the JWKS. Its bits come from this node's replica,
 * so a node that cannot show its replica is current answers 503 instead of a stale list.
 */
export const statusRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.get(`${STATUS_PATH}:list`, async (request, reply) => {
    const { list } = request.params as { list: string };
    const lists = ctx.statusLists;
    if (!lists || !/^\d{1,15}$/.test(list)) throw notFound("No such status list");
    if (!ctx.auth.isFresh()) throw unavailable(1, "Revocation state is not current on this node");
    const jwt = await ctx.auth.storeCall(() => lists.render(Number(list), ctx.auth));
    if (jwt === null) throw notFound("No such status list");
    return reply
      .header("cache-control", `public, max-age=${STATUS_LIST_TTL_SEC}`)
      .type(STATUS_LIST_MEDIA_TYPE)
      .send(jwt);
  });
};
