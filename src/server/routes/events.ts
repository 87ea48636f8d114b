import type { FastifyPluginAsync } from "fastify";
import { Counter, Gauge } from "prom-client";
import { errorText } from "../../core/error-text.js";
import { type EventOutbox, eventOutboxFor } from "../../stores/outbox/index.js";
import type { ServerContext } from "../context.js";
import { EventService } from "../events/service.js";
import { FailureLog } from "../failures.js";

/**
 * Pushed security events (no routes): starts the {@link EventService} of this node, closes it with the
 * server, and adds its delivery state to `/metrics`.
 */
export const eventRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  let outbox: EventOutbox;
  try {
    outbox = eventOutboxFor(ctx.store);
  } catch (error) {
    app.log.warn({ err: errorText(error) }, "security events are off: this store keeps no event outbox");
    return;
  }
  const service = new EventService({
    store: ctx.store,
    clients: ctx.store,
    outbox,
    algorithm: ctx.auth.algorithm,
    issuer: ctx.issuer,
    now: ctx.now,
    steps: ctx.metrics.failureLog(
      app.log,
      "security_events",
      "security events: background step failed; will retry",
    ),
    // Counted by outcome in revokit_security_event_deliveries_total.
    deliveries: new FailureLog(app.log, "security_event_delivery", "security event delivery failed"),
  });
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
