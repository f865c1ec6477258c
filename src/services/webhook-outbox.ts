// The webhook outbox. A change and the deliveries it causes are written in ONE db.batch, so
// they are committed or lost together; only then are the delivery ids sent to the Queue. If
// that send fails (or the Worker dies first) the rows stay `pending` and the cron sweeper
// (src/queues/webhook-sweeper.ts) sends them later: nothing is lost, at worst it is late.
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { webhookDeliveries, type WebhookDelivery } from "../db/schema";
import type { Database } from "../env";
import { errorFields, log } from "../lib/log";
import { nowIso } from "../lib/time";
import { changedARow, noEvents, type DomainEvent, type EventPublisher, type Statement } from "./events";

/** What the webhook Queue carries: just the row to deliver; everything else is read from D1. */
export interface WebhookMessage {
  deliveryId: string;
}

export type WebhookQueue = Pick<Queue<WebhookMessage>, "sendBatch">;

/** The Queue's limit on messages per sendBatch. */
const SEND_BATCH_LIMIT = 100;

// A random RFC 4122 version-4 UUID built in SQL, evaluated once per inserted row.
const UUID_V4 = sql.raw(
  "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || " +
    "substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))",
);

export interface OutboxEvent {
  event: string;
  /** The exact JSON body receivers get (the signature covers these bytes). */
  payload: string;
  /** Deliveries are written only if this holds after the change (see DomainEvent.onlyIf). */
  onlyIf?: SQL;
}

export const payloadOf = (e: { event: string; data: DomainEvent["data"]; timestamp: string }): string =>
  JSON.stringify({ event: e.event, data: e.data, timestamp: e.timestamp });

/**
 * One INSERT ... SELECT per condition that writes a pending delivery for every (event, active
 * subscription of the organization listening to it or to "*") pair, returning the new ids. The
 * events travel as one JSON parameter (D1 binds at most 100 per statement), so a change's events
 * share one statement however many there are: a condition on the change (`changedARow`) holds
 * for all of them alike. Selecting the subscriptions inside the batch costs no extra round trip,
 * and sees the same subscription rows the change commits against: a subscription deleted
 * meanwhile cannot make the insert (and so the change) fail on its foreign key, as ids read
 * beforehand could.
 */
export function deliveryInserts(db: Database, organizationId: string, events: OutboxEvent[], now = nowIso()) {
  // Every column's value for a new row, by the table's field names; the record type makes a
  // column added to the table a compile error here until it gets a value.
  const values: Record<keyof WebhookDelivery, SQL> = {
    id: UUID_V4,
    organizationId: sql`s.organization_id`,
    subscriptionId: sql`s.id`,
    event: sql`json_extract(e.value, '$[0]')`,
    payload: sql`json_extract(e.value, '$[1]')`,
    status: sql`'pending'`,
    attempts: sql`0`,
    lastAttemptAt: sql`NULL`,
    nextAttemptAt: sql`NULL`,
    responseStatus: sql`NULL`,
    responseDurationMs: sql`NULL`,
    error: sql`NULL`,
    createdAt: sql`${now}`,
    updatedAt: sql`${now}`,
  };
  // Drizzle's INSERT ... SELECT lists the table's columns in definition order; select in that order.
  const selectList = sql.join(
    Object.keys(getTableColumns(webhookDeliveries)).map((field) => values[field as keyof WebhookDelivery]),
    sql`, `,
  );
  const byCondition = new Map<SQL | undefined, OutboxEvent[]>();
  for (const e of events) byCondition.set(e.onlyIf, [...(byCondition.get(e.onlyIf) ?? []), e]);
  return [...byCondition].map(([condition, group]) =>
    db
      .insert(webhookDeliveries)
      .select(
        sql`SELECT ${selectList}
          FROM webhook_subscriptions AS s
          JOIN json_each(${JSON.stringify(group.map((e) => [e.event, e.payload]))}) AS e
          WHERE s.organization_id = ${organizationId}
            AND s.active = 1
            AND EXISTS (SELECT 1 FROM json_each(s.events) AS j WHERE j.value IN (json_extract(e.value, '$[0]'), '*'))
            AND ${condition ?? sql`1`}
          ORDER BY e.key, s.created_at`,
      )
      .returning({ id: webhookDeliveries.id }),
  );
}

/** Sends delivery ids to the Queue in batches it accepts. Throws if a send fails. */
export async function enqueueDeliveries(queue: WebhookQueue, ids: string[], delaySeconds?: number): Promise<void> {
  for (let start = 0; start < ids.length; start += SEND_BATCH_LIMIT) {
    const messages = ids.slice(start, start + SEND_BATCH_LIMIT).map((deliveryId) => ({
      body: { deliveryId },
      contentType: "json" as const,
      ...(delaySeconds ? { delaySeconds } : {}),
    }));
    await queue.sendBatch(messages);
  }
}

/** Sends ids to the Queue; a failure is logged, never thrown: the sweeper re-sends. */
export async function enqueueOrLeaveForSweeper(queue: WebhookQueue, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    await enqueueDeliveries(queue, ids);
  } catch (err) {
    log("warn", "webhook queue send failed; the sweeper will re-send", { deliveries: ids.length, ...errorFields(err) });
  }
}

export interface WebhookPublisherOptions {
  queue: WebhookQueue;
  /** Runs the Queue send after the response (ctx.waitUntil); without it the send is awaited. */
  defer?: (work: Promise<unknown>) => void;
}

/** The real EventPublisher: the change, plus its outbox rows, in one batch; then the Queue. */
export function createWebhookPublisher({ queue, defer }: WebhookPublisherOptions): EventPublisher {
  return {
    async commit(db, statements, events, before = []) {
      if (events.length === 0) return noEvents.commit(db, statements, events, before);
      const now = nowIso();
      const byOrg = new Map<string, OutboxEvent[]>();
      for (const e of events) {
        const list = byOrg.get(e.organizationId) ?? [];
        list.push({ event: e.event, payload: payloadOf(e), ...(e.onlyIf && { onlyIf: e.onlyIf }) });
        byOrg.set(e.organizationId, list);
      }
      const inserts: Statement[] = [...byOrg].flatMap(([org, list]) => deliveryInserts(db, org, list, now));
      // changes() reports the statement just before: only right after a single change statement.
      if (events.some((e) => e.onlyIf === changedARow) && (statements.length !== 1 || inserts.length !== 1)) {
        throw new Error("changedARow needs one change statement and events of one organization and one condition");
      }
      const results = ((await db.batch([...before, ...statements, ...inserts] as [Statement, ...Statement[]])) as unknown[]).slice(before.length);
      const ids = results.slice(statements.length).flatMap((rows) => (rows as { id: string }[]).map((r) => r.id));
      const send = enqueueOrLeaveForSweeper(queue, ids);
      if (defer) defer(send);
      else await send;
      return results.slice(0, statements.length);
    },
  };
}
