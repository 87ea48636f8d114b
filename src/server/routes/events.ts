import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import { EventService } from "../events/service.js";

/**
 * Pushed security events (no routes): starts the {@link EventService} of this node, closes it with the
 * server, and adds its delivery state to `/metrics`.
 */
export const eventRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  let service: EventService;
  try {
    service = new EventService(ctx.auth, ctx.issuer, ctx.now, (error, what) =>
      app.log.warn({ err: error }, `${what}: background step failed; will retry`),
    );
  } catch (error) {
    app.log.warn({ err: error }, "security events are off: this store keeps no event outbox");
    return;
  }
  service.start();
  app.addHook("onClose", async () => service.close());
  ctx.metrics.collectors.push(() => {
    const m = service.metrics;
    const lines = [
      "# HELP revokit_security_event_deliveries_total Security Event Token delivery attempts by outcome.",
      "# TYPE revokit_security_event_deliveries_total counter",
      ...["delivered", "rejected", "retry"].map(
        (o) => `revokit_security_event_deliveries_total{outcome="${o}"} ${m.attempts.get(o) ?? 0}`,
      ),
      "# HELP revokit_security_events Security events in the outbox by state (as last read by the delivering node).",
      "# TYPE revokit_security_events gauge",
      ...["pending", "delivered", "failed"].map(
        (s) => `revokit_security_events{state="${s}"} ${m.outbox[s] ?? 0}`,
      ),
      "# HELP revokit_security_event_leader Whether this node delivers the security events now.",
      "# TYPE revokit_security_event_leader gauge",
      `revokit_security_event_leader ${m.leader ? 1 : 0}`,
    ];
    return `${lines.join("\n")}\n`;
  });
};
