import { z } from "zod";
import { DELIVERY_STATUSES, WEBHOOK_EVENTS } from "../db/schema";
import { paginationQuery } from "../lib/pagination";
import { uuid } from "./common";

/** The event a ping delivery carries; not subscribable, sent to one subscription on request. */
export const PING_EVENT = "webhook.ping";

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
