import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import { idParam } from "../schemas/common";
import {
  createWebhookBody,
  deliveryParam,
  listDeliveriesQuery,
  listWebhooksQuery,
  updateWebhookBody,
  type WebhookWithSecret,
} from "../schemas/webhooks";
import { enqueueOrLeaveForSweeper } from "../services/webhook-outbox";
import {
  createWebhook,
  deleteWebhook,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
  pingWebhook,
  redeliver,
  rotateWebhookSecret,
  toDeliveryResponse,
  toWebhookResponse,
  updateWebhook,
} from "../services/webhooks";

// Subscriptions send the organization's data to URLs of the caller's choosing: admins only.
export const webhookRoutes = new Hono<AppEnv>()
  .use("*", requireAuth, requireRole("admin"))
  .get("/", validate("query", listWebhooksQuery), async (c) => {
    return c.json(await listWebhooks(c.var.db, c.var.actor, c.req.valid("query")));
  })
  .post("/", validate("json", createWebhookBody), async (c) => {
    const { subscription, secret } = await createWebhook(c.var.db, c.var.actor, c.req.valid("json"), c.var.config);
    // The only response that ever carries the secret.
    return c.json({ ...toWebhookResponse(subscription), secret } satisfies WebhookWithSecret, 201);
  })
  .get("/:id", validate("param", idParam), async (c) => {
    return c.json(toWebhookResponse(await getWebhook(c.var.db, c.var.actor, c.req.valid("param").id)));
  })
  .patch("/:id", validate("param", idParam), validate("json", updateWebhookBody), async (c) => {
    const sub = await updateWebhook(c.var.db, c.var.actor, c.req.valid("param").id, c.req.valid("json"), c.var.config);
    return c.json(toWebhookResponse(sub));
  })
  .delete("/:id", validate("param", idParam), async (c) => {
    await deleteWebhook(c.var.db, c.var.actor, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .post("/:id/rotate-secret", validate("param", idParam), async (c) => {
    const { subscription, secret } = await rotateWebhookSecret(c.var.db, c.var.actor, c.req.valid("param").id, c.var.config);
    return c.json({ ...toWebhookResponse(subscription), secret } satisfies WebhookWithSecret);
  })
  .post("/:id/ping", validate("param", idParam), async (c) => {
    const delivery = await pingWebhook(c.var.db, c.var.actor, c.req.valid("param").id);
    await enqueueOrLeaveForSweeper(c.env.WEBHOOK_QUEUE, [delivery.id]);
    return c.json(toDeliveryResponse(delivery), 202);
  })
  .get("/:id/deliveries", validate("param", idParam), validate("query", listDeliveriesQuery), async (c) => {
    return c.json(await listDeliveries(c.var.db, c.var.actor, c.req.valid("param").id, c.req.valid("query")));
  })
  .get("/:id/deliveries/:deliveryId", validate("param", deliveryParam), async (c) => {
    const { id, deliveryId } = c.req.valid("param");
    return c.json(await getDelivery(c.var.db, c.var.actor, id, deliveryId));
  })
  .post("/:id/deliveries/:deliveryId/redeliver", validate("param", deliveryParam), async (c) => {
    const { id, deliveryId } = c.req.valid("param");
    const delivery = await redeliver(c.var.db, c.var.actor, id, deliveryId);
    await enqueueOrLeaveForSweeper(c.env.WEBHOOK_QUEUE, [delivery.id]);
    return c.json(toDeliveryResponse(delivery), 202);
  });
