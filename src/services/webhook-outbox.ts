// The webhook outbox. A change and the deliveries it causes are written in ONE db.batch, so
// they are committed or lost together; only then are the delivery ids sent to the Queue. If
// that send fails (or the Worker dies first) the rows stay `pending` and the cron sweeper
// (src/queues/webhook-sweeper.ts) sends them later: nothing is lost, at worst it is late.
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { webhookDeliveries, type WebhookDelivery } from "../db/schema";
import type { Database } from "../env";
import { errorFields, log } from "../lib/log";
import { nowIso } from "../lib/time";
import type { DomainEvent, EventPublisher, Statement } from "./events";

/** What the webhook Queue carries: just the row to deliver; everything else is read from D1. */
export interface WebhookMessage {
  deliveryId: string;
}

export type WebhookQueue = Pick<Queue<WebhookMessage>, "sendBatch">;

/** The Queue's limit on messages per sendBatch. */
const SEND_BATCH_LIMIT = 100;
// D1 binds at most 100 parameters per statement: 3 per event plus 3 fixed.
const EVENTS_PER_STATEMENT = 30;

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
 * One INSERT ... SELECT that writes a pending delivery for every (event, active subscription of
 * the organization listening to it or to "*") pair, returning the new ids. Selecting the
 * subscriptions inside the batch costs no extra round trip, and sees the same subscription rows
 * the change commits against: a subscription deleted meanwhile cannot make the insert (and so
 * the change) fail on its foreign key, as ids read beforehand could.
 */
export function deliveryInserts(db: Database, organizationId: string, events: OutboxEvent[], now = nowIso()) {
  // Every column's value for a new row, by the table's field names; the record type makes a
  // column added to the table a compile error here until it gets a value.
  const values: Record<keyof WebhookDelivery, SQL> = {
    id: UUID_V4,
    organizationId: sql`s.organization_id`,
    subscriptionId: sql`s.id`,
    event: sql`e.column1`,
    payload: sql`e.column2`,
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
  const statements = [];
  for (let start = 0; start < events.length; ) {
    // A chunk shares one condition, so it stays one WHERE clause.
    const condition = events[start]!.onlyIf;
    let end = start + 1;
    while (end < events.length && end - start < EVENTS_PER_STATEMENT && events[end]!.onlyIf === condition) end++;
    const chunk = events.slice(start, end);
    const rows = sql.join(
      chunk.map((e, i) => sql`(${e.event}, ${e.payload}, ${start + i})`),
      sql`, `,
    );
    statements.push(
      db
        .insert(webhookDeliveries)
        .select(
          sql`SELECT ${selectList}
            FROM webhook_subscriptions AS s
            JOIN (VALUES ${rows}) AS e
            WHERE s.organization_id = ${organizationId}
              AND s.active = 1
              AND EXISTS (SELECT 1 FROM json_each(s.events) AS j WHERE j.value IN (e.column1, '*'))
              AND ${condition ?? sql`1`}
            ORDER BY e.column3, s.created_at`,
        )
        .returning({ id: webhookDeliveries.id }),
    );
    start = end;
  }
  return statements;
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
    async commit(db, statements, events) {
      if (events.length === 0) return db.batch(statements);
      const now = nowIso();
      const byOrg = new Map<string, OutboxEvent[]>();
      for (const e of events) {
        const list = byOrg.get(e.organizationId) ?? [];
        list.push({ event: e.event, payload: payloadOf(e), ...(e.onlyIf && { onlyIf: e.onlyIf }) });
        byOrg.set(e.organizationId, list);
      }
      const inserts: Statement[] = [...byOrg].flatMap(([org, list]) => deliveryInserts(db, org, list, now));
      const results = (await db.batch([...statements, ...inserts] as [Statement, ...Statement[]])) as unknown[];
      const ids = results.slice(statements.length).flatMap((rows) => (rows as { id: string }[]).map((r) => r.id));
      const send = enqueueOrLeaveForSweeper(queue, ids);
      if (defer) defer(send);
      else await send;
      return results.slice(0, statements.length);
    },
  };
}
