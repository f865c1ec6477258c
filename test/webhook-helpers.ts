// Shared set-up for the webhook tests: subscriptions pointed at the Node receiver, deliveries
// written through the real outbox publisher (with a stand-in Queue, so the real consumer does
// not race the unit tests), and direct calls of the Worker's queue()/scheduled() handlers.
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { eq, sql } from "drizzle-orm";
import { expect } from "vitest";
import * as schema from "../src/db/schema";
import { organizations, users, webhookDeliveries, webhookSubscriptions, type WebhookEvent } from "../src/db/schema";
import { loadConfig } from "../src/env";
import worker from "../src/index";
import type { EventData } from "../src/schemas/webhooks";
import { createWebhookPublisher, type WebhookMessage, type WebhookQueue } from "../src/services/webhook-outbox";
import { api, type TestUser } from "./helpers";
import { createSink, type Sink } from "./receiver/client";
import type { SinkConfig } from "./receiver/types";

export const db = drizzle(env.DB, { schema });
export const config = () => loadConfig(env);
export const WEBHOOK_QUEUE = "edgeboard-webhooks";

export async function orgIdOf(user: TestUser): Promise<string> {
  const row = await db.select({ org: users.organizationId }).from(users).where(eq(users.id, user.id)).get();
  return row!.org;
}

export interface TestSubscription {
  id: string;
  secret: string;
  sink: Sink;
  body: any;
}

/** A receiver sink plus a subscription to it whose secret the sink verifies with. */
export async function subscribe(
  admin: TestUser,
  options: { events?: string[]; sink?: Omit<SinkConfig, "secrets"> } = {},
): Promise<TestSubscription> {
  const sink = await createSink({ secrets: [], ...options.sink });
  const res = await api("POST", "/api/webhooks", { token: admin.token, body: { url: sink.url, events: options.events ?? ["*"] } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await sink.configure({ secrets: [res.body.secret], ...options.sink });
  return { id: res.body.id, secret: res.body.secret, sink, body: res.body };
}

/** A Queue stand-in that records what was sent (or fails, to play a Queue outage). */
export function fakeQueue(fail = false) {
  const sent: WebhookMessage[] = [];
  const queue: WebhookQueue = {
    async sendBatch(messages) {
      if (fail) throw new Error("queue unavailable");
      for (const m of messages) sent.push(m.body);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0, oldestMessageTimestamp: undefined } } } as never;
    },
  };
  return { queue, sent };
}

/** A harmless change to commit the events with: a new organization row. */
export const harmlessChange = () =>
  db.insert(organizations).values({ id: crypto.randomUUID(), name: "unrelated", createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });

/** A documented `data` for each event (src/schemas/webhooks.ts), as the services would build it. */
export function eventDataFor(event: WebhookEvent): EventData<WebhookEvent> {
  const actor = crypto.randomUUID();
  const widget = { id: crypto.randomUUID(), title: "Revenue", type: "line_chart" as const, dashboardId: crypto.randomUUID() };
  const all: { [E in WebhookEvent]: EventData<E> } = {
    "dashboard.created": { id: crypto.randomUUID(), name: "Sales", description: null, isPublic: false, createdBy: actor },
    "dashboard.updated": { id: crypto.randomUUID(), name: "Sales", isPublic: false, changedFields: ["name"], updatedBy: actor },
    "dashboard.deleted": { id: crypto.randomUUID(), name: "Sales", deletedBy: actor },
    "widget.created": { ...widget, dataSourceId: null, x: 0, y: 0, width: 6, height: 4, createdBy: actor },
    "widget.updated": { ...widget, changedFields: ["title"], updatedBy: actor },
    "widget.deleted": { ...widget, deletedBy: actor },
  };
  return all[event];
}

/** Commits a harmless change with one event through the real publisher; returns the delivery ids. */
export async function emit(organizationId: string, event: WebhookEvent = "dashboard.created", data: Record<string, unknown> = eventDataFor(event)) {
  const { queue, sent } = fakeQueue();
  await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], [
    { event, organizationId, data, timestamp: new Date().toISOString() },
  ]);
  return sent.map((m) => m.deliveryId);
}

/**
 * Runs the Worker's queue() handler on one batch for these deliveries; returns the ack/retry
 * state. (getQueueResult in vitest-plugin 1.5 drops retry()'s delaySeconds, so each message's
 * retry is observed here and the delays are put back into `retryMessages`.)
 */
export async function consume(deliveryIds: string[], queueName = WEBHOOK_QUEUE) {
  return consumeBodies(deliveryIds.map((deliveryId, i) => ({ id: `msg-${i}-${deliveryId}`, body: { deliveryId } })), queueName);
}

export async function consumeBodies(messages: { id: string; body: unknown }[], queueName = WEBHOOK_QUEUE, workerEnv: Env = env) {
  const batch = createMessageBatch<unknown>(
    queueName,
    messages.map((m) => ({ ...m, timestamp: new Date(), attempts: 1 })),
  );
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      delays.set(message.id, options?.delaySeconds);
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, workerEnv);
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: delays.get(r.msgId) })) };
}

/** Runs the Worker's scheduled() handler (the outbox sweeper) as the cron would at `scheduledTime`. */
export async function runScheduled(scheduledTime: number) {
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env);
}

export const deliveryRow = (id: string) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
export const subscriptionRow = (id: string) => db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).get();
export const setAttempts = (id: string, attempts: number) =>
  db.update(webhookDeliveries).set({ attempts }).where(eq(webhookDeliveries.id, id));
export const pendingCount = async (subscriptionId: string) =>
  (await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM webhook_deliveries WHERE subscription_id = ${subscriptionId} AND status = 'pending'`))[0]!.n;

/** Polls the delivery log until the delivery leaves `pending` (the real Queue consumer at work). */
export async function waitForStatus(admin: TestUser, subscriptionId: string, deliveryId: string, status: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api("GET", `/api/webhooks/${subscriptionId}/deliveries/${deliveryId}`, { token: admin.token });
    if (res.body?.status === status) return res.body;
    if (Date.now() > deadline) throw new Error(`delivery stayed ${res.body?.status}, expected ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
