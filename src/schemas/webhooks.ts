import { z } from "zod";
import { DELIVERY_STATUSES, WEBHOOK_EVENTS, WIDGET_TYPES, type WebhookEvent } from "../db/schema";
import { pageSchema, paginationQuery } from "../lib/pagination";
import { timestamp, uuid } from "./common";
import { updateDashboardBody } from "./dashboards";
import { updateWidgetBody } from "./widgets";

/** The event a ping delivery carries; not subscribable, sent to one subscription on request. */
export const PING_EVENT = "webhook.ping" as const;

// The URL's form is checked here, so it is reported with the body's other problems; whether it
// may be contacted (https, a public host) is the host guard's call in the service, which knows
// the development flag.
function urlFormProblem(value: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return "Must be an absolute URL";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "URL must use https";
  if (parsed.username || parsed.password) return "URL must not contain credentials";
  return null;
}

const url = z
  .string()
  .trim()
  .min(1, { message: "Required" })
  .max(2048, { message: "URL must be at most 2048 characters" })
  .superRefine((value, ctx) => {
    const problem = urlFormProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** A non-empty subset of the spec's events, or ["*"] for all of them (now and future). */
const events = z
  .array(z.enum([...WEBHOOK_EVENTS, "*"]), { message: `Expected an array of: ${WEBHOOK_EVENTS.join(", ")} or "*"` })
  .min(1, { message: "At least one event is required" })
  .max(WEBHOOK_EVENTS.length + 1)
  .refine((list) => !list.includes("*") || list.length === 1, { message: '"*" cannot be combined with other events' })
  .transform((list) => [...new Set(list)]);

const description = z.string().trim().max(500).nullable();

export const createWebhookBody = z.strictObject({
  url,
  events,
  description: description.optional(),
  active: z.boolean().optional(),
});

export const updateWebhookBody = z
  .strictObject({
    url: url.optional(),
    events: events.optional(),
    description: description.optional(),
    active: z.boolean().optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), { message: "At least one field is required" });

export const listWebhooksQuery = z.object({ ...paginationQuery });

export const listDeliveriesQuery = z.object({
  ...paginationQuery,
  status: z.enum(DELIVERY_STATUSES).optional(),
});

export const deliveryParam = z.object({ id: uuid, deliveryId: uuid });

export type CreateWebhookInput = z.infer<typeof createWebhookBody>;
export type UpdateWebhookInput = z.infer<typeof updateWebhookBody>;
export type ListWebhooksQuery = z.infer<typeof listWebhooksQuery>;
export type ListDeliveriesQuery = z.infer<typeof listDeliveriesQuery>;

// ---- Responses

const subscribable = z.enum([...WEBHOOK_EVENTS, "*"]);

export const webhookResponse = z.object({
  id: uuid,
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(subscribable).describe('The subscribed events, or ["*"] for all of them'),
  active: z.boolean(),
  disabledReason: z.string().nullable().describe("Why the system turned the subscription off (410 Gone, repeated failures)"),
  consecutiveFailures: z.number().int().min(0),
  previousSecretExpiresAt: timestamp.nullable().describe("After a rotation: when the replaced secret stops signing"),
  createdBy: uuid.nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

/** Create and rotate-secret: the only responses that carry the signing secret. */
export const webhookWithSecret = webhookResponse.extend({
  secret: z.string().startsWith("whsec_").describe("whsec_ + base64 of 32 random bytes; shown only in this response"),
});

export const webhookPage = pageSchema(webhookResponse);

export const deliveryResponse = z.object({
  id: uuid.describe("Also the webhook-id header: stable across retries and redeliveries"),
  subscriptionId: uuid,
  event: z.enum([...WEBHOOK_EVENTS, PING_EVENT]),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int().min(0).describe("Attempts made so far"),
  lastAttemptAt: timestamp.nullable(),
  nextAttemptAt: timestamp.nullable().describe("Pending only: when the next attempt is due"),
  responseStatus: z.number().int().nullable().describe("The receiver's status on the latest attempt"),
  responseDurationMs: z.number().int().min(0).nullable(),
  error: z.string().nullable().describe("What went wrong on the latest attempt"),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const deliveryPage = pageSchema(deliveryResponse);

export const deliveryAttempt = z.object({
  attemptNumber: z.number().int().min(1),
  startedAt: timestamp,
  responseStatus: z.number().int().nullable(),
  durationMs: z.number().int().min(0).nullable(),
  error: z.string().nullable().describe("At most 500 characters"),
  responseBody: z.string().nullable().describe("At most the first 1 KiB of the receiver's answer"),
});

// ---- Event payloads: the exact bodies a subscription receives (docs/webhooks.md)

const dashboardChangedFields = z.array(updateDashboardBody.keyof()).describe("The fields the PATCH changed");
const widgetChangedFields = z.array(updateWidgetBody.keyof()).describe("The fields the PATCH changed");
const widgetRef = { id: uuid, title: z.string(), type: z.enum(WIDGET_TYPES), dashboardId: uuid };

/** Each event's `data`, built by the dashboard and widget services (and the ping). */
export const eventData = {
  "dashboard.created": z.object({ id: uuid, name: z.string(), description: z.string().nullable(), isPublic: z.boolean(), createdBy: uuid }),
  "dashboard.updated": z.object({ id: uuid, name: z.string(), isPublic: z.boolean(), changedFields: dashboardChangedFields, updatedBy: uuid }),
  "dashboard.deleted": z.object({ id: uuid, name: z.string(), deletedBy: uuid }),
  "widget.created": z.object({
    ...widgetRef,
    dataSourceId: uuid.nullable(),
    x: z.number().int(),
    y: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    createdBy: uuid,
  }),
  "widget.updated": z.object({ ...widgetRef, changedFields: widgetChangedFields, updatedBy: uuid }),
  "widget.deleted": z.object({ ...widgetRef, deletedBy: uuid }),
  [PING_EVENT]: z.object({ subscriptionId: uuid, triggeredBy: uuid.describe("The admin who asked for the ping") }),
} as const satisfies Record<WebhookEvent | typeof PING_EVENT, z.ZodType>;

export type DeliveredEvent = keyof typeof eventData;
export type EventData<E extends DeliveredEvent> = z.output<(typeof eventData)[E]>;

const payload = <E extends DeliveredEvent>(event: E) =>
  z.object({
    event: z.literal(event),
    data: eventData[event],
    timestamp: timestamp.describe("When the change happened; the same on every retry"),
  });

export const eventPayloads = {
  "dashboard.created": payload("dashboard.created"),
  "dashboard.updated": payload("dashboard.updated"),
  "dashboard.deleted": payload("dashboard.deleted"),
  "widget.created": payload("widget.created"),
  "widget.updated": payload("widget.updated"),
  "widget.deleted": payload("widget.deleted"),
  [PING_EVENT]: payload(PING_EVENT),
} as const satisfies { [E in DeliveredEvent]: z.ZodType };

export const webhookPayload = z.discriminatedUnion("event", Object.values(eventPayloads) as [
  (typeof eventPayloads)[DeliveredEvent],
  ...(typeof eventPayloads)[DeliveredEvent][],
]);
export type WebhookPayload = z.output<typeof webhookPayload>;

/** One delivery with `payload` (the body that was sent, and signed) and `attemptLog` (every attempt, oldest first). */
export const deliveryDetail = deliveryResponse
  .extend({ payload: webhookPayload, attemptLog: z.array(deliveryAttempt) })
  .describe("A delivery with `payload`, the body that was sent (and signed), and `attemptLog`, every attempt, oldest first");

export type WebhookResponse = z.output<typeof webhookResponse>;
export type WebhookWithSecret = z.output<typeof webhookWithSecret>;
export type DeliveryResponse = z.output<typeof deliveryResponse>;
export type DeliveryAttempt = z.output<typeof deliveryAttempt>;
export type DeliveryDetail = z.output<typeof deliveryDetail>;
