import { and, desc, eq, sql } from "drizzle-orm";
import {
  webhookDeliveries,
  webhookDeliveryAttempts,
  webhookSubscriptions,
  type WebhookDelivery,
  type WebhookDeliveryAttempt,
  type WebhookSubscription,
} from "../db/schema";
import type { Actor, Config, Database } from "../env";
import { encryptSecret } from "../lib/crypto";
import { conflict, notFound, validationError } from "../lib/errors";
import { checkUrl } from "../lib/host-guard";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { nowIso } from "../lib/time";
import { generateWebhookSecret } from "../lib/webhook-signature";
import {
  PING_EVENT,
  type CreateWebhookInput,
  type DeliveryAttempt,
  type DeliveryDetail,
  type DeliveryResponse,
  type ListDeliveriesQuery,
  type ListWebhooksQuery,
  type UpdateWebhookInput,
  type WebhookPayload,
  type WebhookResponse,
} from "../schemas/webhooks";
import { payloadOf } from "./webhook-outbox";

/** How long a replaced secret keeps signing after a rotation. */
export const SECRET_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

/** The one place a subscription becomes a response: no secret, current or previous, can get out. */
export function toWebhookResponse(sub: WebhookSubscription): WebhookResponse {
  return {
    id: sub.id,
    url: sub.url,
    description: sub.description,
    events: sub.events,
    active: sub.active,
    disabledReason: sub.disabledReason,
    consecutiveFailures: sub.consecutiveFailures,
    // When the secret replaced by the last rotation stops signing (null when none does).
    previousSecretExpiresAt:
      sub.previousSecretExpiresAt && sub.previousSecretExpiresAt > nowIso() ? sub.previousSecretExpiresAt : null,
    createdBy: sub.createdBy,
    createdAt: sub.createdAt,
    updatedAt: sub.updatedAt,
  };
}

export function toDeliveryResponse(d: WebhookDelivery): DeliveryResponse {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    lastAttemptAt: d.lastAttemptAt,
    // Pending only: when the next attempt is due (during an attempt: when it is presumed lost).
    nextAttemptAt: d.status === "pending" ? d.nextAttemptAt : null,
    responseStatus: d.responseStatus,
    responseDurationMs: d.responseDurationMs,
    error: d.error,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export function toAttemptResponse(a: WebhookDeliveryAttempt): DeliveryAttempt {
  return {
    attemptNumber: a.attemptNumber,
    startedAt: a.startedAt,
    responseStatus: a.responseStatus,
    durationMs: a.durationMs,
    error: a.error,
    responseBody: a.responseBody,
  };
}

function guardUrl(url: string, config: Config): string {
  const verdict = checkUrl(url, { allowPrivate: config.allowPrivateNetworkTargets });
  if (!verdict.ok) throw validationError("url", `URL is not allowed: ${verdict.reason}`);
  return url;
}

const ownSubscription = (actor: Actor, id: string) =>
  and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.organizationId, actor.organizationId));

export async function createWebhook(
  db: Database,
  actor: Actor,
  input: CreateWebhookInput,
  config: Config,
): Promise<{ subscription: WebhookSubscription; secret: string }> {
  const secret = generateWebhookSecret();
  const sealed = await encryptSecret(secret, config.encryptionKey);
  const now = nowIso();
  const subscription: WebhookSubscription = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    url: guardUrl(input.url, config),
    description: input.description ?? null,
    events: input.events,
    active: input.active ?? true,
    disabledReason: null,
    secretEncrypted: sealed.ciphertext,
    secretKeyVersion: sealed.keyVersion,
    previousSecretEncrypted: null,
    previousSecretKeyVersion: null,
    previousSecretExpiresAt: null,
    consecutiveFailures: 0,
    createdBy: actor.userId,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(webhookSubscriptions).values(subscription);
  return { subscription, secret };
}

export async function listWebhooks(db: Database, actor: Actor, query: ListWebhooksQuery) {
  const where = eq(webhookSubscriptions.organizationId, actor.organizationId);
  const order = [desc(webhookSubscriptions.createdAt), desc(webhookSubscriptions.id)];
  const { rows, total } = await selectPage(db, webhookSubscriptions, where, order, { limit: query.limit, offset: offsetOf(query.page, query.limit) });
  return pageOf(rows.map(toWebhookResponse), total, query.page, query.limit);
}

export async function getWebhook(db: Database, actor: Actor, id: string): Promise<WebhookSubscription> {
  const sub = await db.select().from(webhookSubscriptions).where(ownSubscription(actor, id)).get();
  if (!sub) throw notFound("Webhook");
  return sub;
}

export async function updateWebhook(
  db: Database,
  actor: Actor,
  id: string,
  input: UpdateWebhookInput,
  config: Config,
): Promise<WebhookSubscription> {
  const changes: Partial<WebhookSubscription> = { updatedAt: nowIso() };
  if (input.url !== undefined) changes.url = guardUrl(input.url, config);
  if (input.events !== undefined) changes.events = input.events;
  if (input.description !== undefined) changes.description = input.description;
  if (input.active !== undefined) {
    changes.active = input.active;
    // Turning a subscription (back) on, or off by hand, starts its failure count afresh.
    changes.disabledReason = null;
    changes.consecutiveFailures = 0;
  }
  const updated = await db.update(webhookSubscriptions).set(changes).where(ownSubscription(actor, id)).returning().get();
  if (!updated) throw notFound("Webhook");
  return updated;
}

export async function deleteWebhook(db: Database, actor: Actor, id: string): Promise<void> {
  // Deliveries and their attempts go with it (ON DELETE CASCADE); queued messages for them
  // find no row and are acknowledged.
  const deleted = await db.delete(webhookSubscriptions).where(ownSubscription(actor, id)).returning({ id: webhookSubscriptions.id }).get();
  if (!deleted) throw notFound("Webhook");
}

/**
 * A new secret; the current one keeps signing for 24 hours beside it, so receivers can switch
 * without dropping a delivery. A second rotation within the grace drops the oldest secret.
 */
export async function rotateWebhookSecret(
  db: Database,
  actor: Actor,
  id: string,
  config: Config,
): Promise<{ subscription: WebhookSubscription; secret: string }> {
  const secret = generateWebhookSecret();
  const sealed = await encryptSecret(secret, config.encryptionKey);
  const now = Date.now();
  const updated = await db
    .update(webhookSubscriptions)
    .set({
      previousSecretEncrypted: sql`${webhookSubscriptions.secretEncrypted}`,
      previousSecretKeyVersion: sql`${webhookSubscriptions.secretKeyVersion}`,
      previousSecretExpiresAt: nowIso(now + SECRET_ROTATION_GRACE_MS),
      secretEncrypted: sealed.ciphertext,
      secretKeyVersion: sealed.keyVersion,
      updatedAt: nowIso(now),
    })
    .where(ownSubscription(actor, id))
    .returning()
    .get();
  if (!updated) throw notFound("Webhook");
  return { subscription: updated, secret };
}

const disabled = (sub: WebhookSubscription) =>
  conflict("This webhook is disabled; enable it (PATCH active: true) before sending to it", [
    { field: "active", message: sub.disabledReason ?? "Disabled" },
  ]);

/** Writes a `webhook.ping` delivery for one subscription; the caller sends it to the Queue. */
export async function pingWebhook(db: Database, actor: Actor, id: string): Promise<WebhookDelivery> {
  const sub = await getWebhook(db, actor, id);
  if (!sub.active) throw disabled(sub);
  const now = nowIso();
  const delivery: WebhookDelivery = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    subscriptionId: sub.id,
    event: PING_EVENT,
    payload: payloadOf({ event: PING_EVENT, data: { subscriptionId: sub.id, triggeredBy: actor.userId }, timestamp: now }),
    status: "pending",
    attempts: 0,
    lastAttemptAt: null,
    nextAttemptAt: null,
    responseStatus: null,
    responseDurationMs: null,
    error: null,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(webhookDeliveries).values(delivery);
  return delivery;
}

const ownDelivery = (actor: Actor, subscriptionId: string, deliveryId: string) =>
  and(
    eq(webhookDeliveries.id, deliveryId),
    eq(webhookDeliveries.subscriptionId, subscriptionId),
    eq(webhookDeliveries.organizationId, actor.organizationId),
  );

export async function listDeliveries(db: Database, actor: Actor, id: string, query: ListDeliveriesQuery) {
  await getWebhook(db, actor, id);
  const where = and(
    eq(webhookDeliveries.subscriptionId, id),
    eq(webhookDeliveries.organizationId, actor.organizationId),
    query.status ? eq(webhookDeliveries.status, query.status) : undefined,
  );
  const order = [desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)];
  const { rows, total } = await selectPage(db, webhookDeliveries, where, order, { limit: query.limit, offset: offsetOf(query.page, query.limit) });
  return pageOf(rows.map(toDeliveryResponse), total, query.page, query.limit);
}

export async function getDelivery(db: Database, actor: Actor, id: string, deliveryId: string): Promise<DeliveryDetail> {
  const [[delivery], attempts] = await db.batch([
    db.select().from(webhookDeliveries).where(ownDelivery(actor, id, deliveryId)).limit(1),
    db
      .select()
      .from(webhookDeliveryAttempts)
      .where(and(eq(webhookDeliveryAttempts.deliveryId, deliveryId), eq(webhookDeliveryAttempts.organizationId, actor.organizationId)))
      .orderBy(webhookDeliveryAttempts.attemptNumber),
  ]);
  if (!delivery) throw notFound("Delivery");
  return {
    ...toDeliveryResponse(delivery),
    // Written by payloadOf from a typed event (src/services/events.ts), so it has the documented shape.
    payload: JSON.parse(delivery.payload) as WebhookPayload,
    // Every attempt, oldest first. (`attempts` stays the count, as in the list.)
    attemptLog: attempts.map(toAttemptResponse),
  };
}

/**
 * Makes a delivery pending and due now, whatever its state; the caller sends it to the Queue.
 * A delivery that had used up its retries gets one more attempt (its count goes on from where it
 * was, so a failure marks it failed again at once).
 */
export async function redeliver(db: Database, actor: Actor, id: string, deliveryId: string): Promise<WebhookDelivery> {
  const sub = await getWebhook(db, actor, id);
  if (!sub.active) throw disabled(sub);
  const updated = await db
    .update(webhookDeliveries)
    .set({ status: "pending", nextAttemptAt: null, updatedAt: nowIso() })
    .where(ownDelivery(actor, id, deliveryId))
    .returning()
    .get();
  if (!updated) throw notFound("Delivery");
  return updated;
}
