import type { FastifyPluginAsync } from "fastify";
import { Counter, Gauge } from "prom-client";
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
  ctx.metrics.collectors.push((registry) => {
    const m = service.metrics;
    new Counter({
      name: "revokit_security_event_deliveries_total",
      help: "Security Event Token delivery attempts by outcome.",
      labelNames: ["outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const o of ["delivered", "rejected", "retry"]) this.inc({ outcome: o }, m.attempts.get(o) ?? 0);
      },
    });
    new Gauge({
      name: "revokit_security_events",
      help: "Security events in the outbox by state (as last read by the delivering node).",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        for (const st of ["pending", "delivered", "failed"]) this.set({ state: st }, m.outbox[st] ?? 0);
      },
    });
    new Gauge({
      name: "revokit_security_event_leader",
      help: "Whether this node delivers the security events now.",
      registers: [registry],
      collect() {
        this.set(m.leader ? 1 : 0);
      },
    });
  });
};
