// The outbox sweeper (cron). A delivery is left `pending` and overdue when its Queue send failed,
// the Worker died between commit and send or mid-attempt, or a retry message was lost. Every
// run re-sends those overdue by more than the grace period. Marking them due-now (next attempt
// NULL, updated_at = now) before sending means the same row is re-sent at most once per grace
// period however long the Queue takes; duplicates that do arrive lose the consumer's claim.
import { sql } from "drizzle-orm";
import { databaseFor } from "../db/database";
import { loadConfig } from "../env";
import { errorFields, log } from "../lib/log";
import { nowIso } from "../lib/time";
import { enqueueDeliveries, type WebhookQueue } from "../services/webhook-outbox";

/** Rows re-sent per run at most; the rest wait a minute for the next run. */
export const SWEEP_LIMIT = 1000;

/**
 * Re-sends overdue pending deliveries; returns how many. `now` is the cron's scheduled time, so
 * the grace is measured from when the run was due, not from a late start.
 */
export async function sweepPendingDeliveries(env: Env, now: number, queue: WebhookQueue = env.WEBHOOK_QUEUE): Promise<number> {
  const config = loadConfig(env);
  const db = databaseFor(env.DB);
  const cutoff = nowIso(now - config.webhooks.sweepGraceSeconds * 1000);
  // A pending row is due at next_attempt_at (retry time or attempt lease), or, when that is
  // NULL, since it was written (updated_at).
  const rows = await db.all<{ id: string }>(sql`
    UPDATE webhook_deliveries
    SET next_attempt_at = NULL, updated_at = ${nowIso(now)}
    WHERE id IN (
      SELECT id FROM webhook_deliveries
      WHERE status = 'pending' AND coalesce(next_attempt_at, updated_at) <= ${cutoff}
      ORDER BY created_at
      LIMIT ${SWEEP_LIMIT}
    )
    RETURNING id`);
  if (rows.length === 0) return 0;
  try {
    await enqueueDeliveries(queue, rows.map((r) => r.id));
  } catch (err) {
    // They stay pending and due; the next run after the grace period tries again.
    log("error", "webhook sweeper: queue send failed", { deliveries: rows.length, ...errorFields(err) });
    return 0;
  }
  log("info", "webhook sweeper re-sent overdue deliveries", { deliveries: rows.length });
  return rows.length;
}
