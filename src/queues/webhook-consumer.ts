// The webhook Queue consumer. Each message names one delivery row; the row, not the message, is
// the source of truth: its `attempts` column counts attempts (messages restart at attempts=1
// after a redeliver or a sweeper re-send, so `message.attempts` cannot), and its `next_attempt_at`
// says when it is due. Retries use `message.retry({ delaySeconds })`: the Queue holds the delay
// and there is no moment between acking one message and sending the next in which a crash could
// drop the retry.
//
// Claiming an attempt is one conditional UPDATE (pending, due, subscription active), so two
// messages for the same delivery (a sweeper re-send racing the original, a redeliver) never post
// it twice at once: the loser finds it claimed, or done, and is acknowledged. While an attempt
// runs, `next_attempt_at` is pushed past its timeout (a lease): if the Worker dies mid-attempt the
// sweeper picks the row up once the lease has expired.
import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import { databaseFor } from "../db/database";
import { webhookDeliveries, webhookDeliveryAttempts, webhookSubscriptions, type WebhookDelivery, type WebhookSubscription } from "../db/schema";
import { ConfigError, loadConfig, MAX_QUEUE_DELAY_SECONDS, type Config, type Database } from "../env";
import { decryptSecret } from "../lib/crypto";
import { checkUrl } from "../lib/host-guard";
import { errorFields, log } from "../lib/log";
import { nowIso } from "../lib/time";
import { signWebhook } from "../lib/webhook-signature";
import type { Statement } from "../services/events";
import type { WebhookMessage } from "../services/webhook-outbox";

export const USER_AGENT = "Edgeboard-Webhooks/1.0";
/** At most this much of a receiver's answer is kept. */
export const MAX_RESPONSE_BODY_BYTES = 1024;
const MAX_ERROR_LENGTH = 500;
/** How far past the attempt timeout a claimed attempt is presumed lost. */
const LEASE_MARGIN_MS = 15_000;
/**
 * Messages of a batch in flight at once. A Worker invocation holds at most 6 open connections;
 * more fetches would wait for a free one with their timeout already running, and could time out
 * without ever being sent.
 */
export const MAX_CONCURRENT_SENDS = 6;
/** A retry delivered this early (clock skew between the Queue and the Worker) still counts as due. */
const DUE_TOLERANCE_MS = 1_000;

export type AttemptOutcome =
  | { kind: "succeeded" }
  | { kind: "retry"; delaySeconds: number }
  | { kind: "failed"; reason: "exhausted" | "gone" | "blocked" }
  | { kind: "skipped"; reason: string };

export function parseWebhookMessage(body: unknown): WebhookMessage | null {
  if (typeof body !== "object" || body === null) return null;
  const id = (body as { deliveryId?: unknown }).deliveryId;
  return typeof id === "string" && id.length > 0 && id.length <= 64 ? { deliveryId: id } : null;
}

/**
 * The Worker's queue() handler: deliveries, or (by queue name) their dead letters. Never throws:
 * every message is settled, since a throwing consumer gets the whole batch redelivered.
 */
export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log("error", "webhook consumer: invalid configuration; retrying the batch later", { reason: err.message });
    batch.retryAll({ delaySeconds: 300 });
    return;
  }
  const db = databaseFor(env.DB);
  if (batch.queue === config.webhooks.deadLetterQueue) return handleDeadLetterBatch(db, batch);
  const queue = [...batch.messages];
  const lane = async () => {
    for (let message = queue.shift(); message; message = queue.shift()) await processMessage(db, config, message);
  };
  await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_SENDS, queue.length) }, lane));
}

async function processMessage(db: Database, config: Config, message: Message<unknown>): Promise<void> {
  const parsed = parseWebhookMessage(message.body);
  if (!parsed) {
    log("warn", "webhook consumer: dropping a malformed message", { messageId: message.id });
    message.ack();
    return;
  }
  let outcome: AttemptOutcome;
  try {
    outcome = await attemptDelivery(db, config, parsed.deliveryId);
  } catch (err) {
    // D1 failed us (the receiver's failures are outcomes, not exceptions). Retry after the
    // lease of a possibly claimed attempt has expired, so the retry can claim it again.
    log("error", "webhook consumer: attempt could not be processed; retrying the message", {
      deliveryId: parsed.deliveryId,
      ...errorFields(err),
    });
    message.retry({ delaySeconds: Math.ceil((config.webhooks.timeoutMs + LEASE_MARGIN_MS) / 1000) + 5 });
    return;
  }
  if (outcome.kind === "retry") message.retry({ delaySeconds: outcome.delaySeconds });
  else message.ack();
}

/** Makes one attempt at a delivery if it is due, records it, and says what the message should do. */
export async function attemptDelivery(db: Database, config: Config, deliveryId: string): Promise<AttemptOutcome> {
  const startedAt = Date.now();
  const [claimed, [sub]] = await db.batch([
    db
      .update(webhookDeliveries)
      .set({
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastAttemptAt: nowIso(startedAt),
        nextAttemptAt: nowIso(startedAt + config.webhooks.timeoutMs + LEASE_MARGIN_MS),
        updatedAt: nowIso(startedAt),
      })
      .where(
        and(
          eq(webhookDeliveries.id, deliveryId),
          eq(webhookDeliveries.status, "pending"),
          or(isNull(webhookDeliveries.nextAttemptAt), lte(webhookDeliveries.nextAttemptAt, nowIso(startedAt + DUE_TOLERANCE_MS))),
          sql`EXISTS (SELECT 1 FROM webhook_subscriptions AS s WHERE s.id = ${webhookDeliveries.subscriptionId} AND s.active = 1)`,
        ),
      )
      .returning(),
    db
      .select()
      .from(webhookSubscriptions)
      .where(eq(webhookSubscriptions.id, sql`(SELECT subscription_id FROM webhook_deliveries WHERE id = ${deliveryId})`)),
  ]);
  const delivery = claimed[0];
  if (!delivery || !sub) return notClaimed(db, deliveryId, sub);

  const guard = checkUrl(sub.url, { allowPrivate: config.allowPrivateNetworkTargets });
  const result = guard.ok
    ? await post(sub, delivery, config, startedAt)
    : { status: null, error: `Blocked by the URL guard: ${guard.reason}`, body: null, retryAfter: null };
  const finishedAt = Date.now();

  let outcome: AttemptOutcome;
  if (!guard.ok) outcome = { kind: "failed", reason: "blocked" };
  else if (result.status !== null && result.status >= 200 && result.status < 300) outcome = { kind: "succeeded" };
  else if (result.status === 410) outcome = { kind: "failed", reason: "gone" };
  else if (delivery.attempts > config.webhooks.retrySchedule.length) outcome = { kind: "failed", reason: "exhausted" };
  else {
    const scheduled = config.webhooks.retrySchedule[delivery.attempts - 1] ?? 0;
    outcome = { kind: "retry", delaySeconds: Math.min(Math.max(scheduled, result.retryAfter ?? 0), MAX_QUEUE_DELAY_SECONDS) };
  }

  await record(db, config, sub, delivery, outcome, {
    startedAt,
    durationMs: finishedAt - startedAt,
    status: result.status,
    error: result.error,
    body: result.body,
    nextAttemptAt: outcome.kind === "retry" ? nowIso(finishedAt + outcome.delaySeconds * 1000) : null,
  });
  return outcome;
}

/** Why a message found nothing to do; a delivery whose subscription is off is closed as failed. */
async function notClaimed(db: Database, deliveryId: string, sub: WebhookSubscription | undefined): Promise<AttemptOutcome> {
  if (!sub) return { kind: "skipped", reason: "delivery or subscription gone" };
  if (!sub.active) {
    await db
      .update(webhookDeliveries)
      .set({ status: "failed", nextAttemptAt: null, error: "Not sent: the subscription is disabled", updatedAt: nowIso() })
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, "pending")));
    return { kind: "skipped", reason: "subscription disabled" };
  }
  // Done already, or claimed by another message, or not due: that message or the sweeper has it.
  return { kind: "skipped", reason: "not pending or not due" };
}

interface PostResult {
  status: number | null;
  error: string | null;
  body: string | null;
  retryAfter: number | null;
}

async function post(sub: WebhookSubscription, delivery: WebhookDelivery, config: Config, startedAt: number): Promise<PostResult> {
  const timestamp = Math.floor(startedAt / 1000);
  const secrets = await activeSecrets(sub, config, startedAt);
  const signature = await signWebhook(secrets, delivery.id, timestamp, delivery.payload);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.webhooks.timeoutMs);
  try {
    const res = await fetch(sub.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signature,
      },
      body: delivery.payload,
      // A redirect could lead past the URL guard; a 3xx is a failed attempt.
      redirect: "manual",
      signal: controller.signal,
    });
    const body = await readCapped(res);
    const ok = res.status >= 200 && res.status < 300;
    return {
      status: res.status,
      error: ok ? null : `Receiver answered ${res.status}`,
      body,
      retryAfter: parseRetryAfter(res.headers.get("retry-after"), Date.now()),
    };
  } catch (err) {
    const reason = timedOut ? `Timed out after ${config.webhooks.timeoutMs} ms` : `Request failed: ${err instanceof Error ? err.message : String(err)}`;
    return { status: null, error: truncate(reason), body: null, retryAfter: null };
  } finally {
    clearTimeout(timer);
  }
}

/** The current secret, plus the one a rotation replaced while its 24-hour grace lasts. */
async function activeSecrets(sub: WebhookSubscription, config: Config, now: number): Promise<string[]> {
  const secrets = [await decryptSecret({ ciphertext: sub.secretEncrypted, keyVersion: sub.secretKeyVersion }, config.encryptionKey)];
  if (
    sub.previousSecretEncrypted &&
    sub.previousSecretKeyVersion !== null &&
    sub.previousSecretExpiresAt &&
    sub.previousSecretExpiresAt > nowIso(now)
  ) {
    secrets.push(
      await decryptSecret({ ciphertext: sub.previousSecretEncrypted, keyVersion: sub.previousSecretKeyVersion }, config.encryptionKey),
    );
  }
  return secrets;
}

/** At most 1 KiB of the answer; the rest is never read. A body that fails to arrive is ignored. */
async function readCapped(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < MAX_RESPONSE_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } catch {
    // A body cut off (or timed out) after the status arrived: the status still decides.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(total, MAX_RESPONSE_BODY_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return bytes.length === 0 ? null : new TextDecoder().decode(bytes);
}

/** Retry-After as seconds from now: delta-seconds or an HTTP date; null when absent or invalid. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_QUEUE_DELAY_SECONDS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.min(Math.max(0, Math.ceil((at - now) / 1000)), MAX_QUEUE_DELAY_SECONDS);
}

const truncate = (text: string) => (text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text);

interface AttemptRecord {
  startedAt: number;
  durationMs: number;
  status: number | null;
  error: string | null;
  body: string | null;
  nextAttemptAt: string | null;
}

const GONE_REASON = "The receiver answered 410 Gone";

/** The attempt's log row, the delivery's new state and the subscription's health, in one batch. */
async function record(
  db: Database,
  config: Config,
  sub: WebhookSubscription,
  delivery: WebhookDelivery,
  outcome: AttemptOutcome,
  attempt: AttemptRecord,
): Promise<void> {
  const now = nowIso();
  const status = outcome.kind === "succeeded" ? "succeeded" : outcome.kind === "retry" ? "pending" : "failed";
  const error =
    outcome.kind === "failed" && outcome.reason === "exhausted"
      ? `${attempt.error ?? "Failed"}; gave up after ${delivery.attempts} attempts`
      : attempt.error;
  const statements: Statement[] = [
    db.insert(webhookDeliveryAttempts).values({
      id: crypto.randomUUID(),
      deliveryId: delivery.id,
      organizationId: delivery.organizationId,
      attemptNumber: delivery.attempts,
      startedAt: nowIso(attempt.startedAt),
      responseStatus: attempt.status,
      durationMs: attempt.durationMs,
      error: attempt.error,
      responseBody: attempt.body,
    }),
    db
      .update(webhookDeliveries)
      .set({
        status,
        nextAttemptAt: attempt.nextAttemptAt,
        responseStatus: attempt.status,
        responseDurationMs: attempt.durationMs,
        error,
        updatedAt: now,
      })
      // Only while this attempt is still the latest (a redeliver may have started another).
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.attempts, delivery.attempts))),
  ];
  const subWhere = eq(webhookSubscriptions.id, sub.id);
  if (outcome.kind === "succeeded") {
    statements.push(
      db
        .update(webhookSubscriptions)
        .set({ consecutiveFailures: 0 })
        .where(and(subWhere, sql`${webhookSubscriptions.consecutiveFailures} <> 0`)),
    );
  } else if (outcome.kind === "failed" && outcome.reason === "gone") {
    statements.push(
      db.update(webhookSubscriptions).set({ active: false, disabledReason: GONE_REASON, updatedAt: now }).where(subWhere),
    );
  } else if (outcome.kind === "failed") {
    // Counted and compared in one statement, so concurrent failures cannot both miss the limit.
    const limit = config.webhooks.disableAfterFailures;
    const reaches = sql`${webhookSubscriptions.consecutiveFailures} + 1 >= ${limit} AND ${webhookSubscriptions.active} = 1`;
    statements.push(
      db
        .update(webhookSubscriptions)
        .set({
          consecutiveFailures: sql`${webhookSubscriptions.consecutiveFailures} + 1`,
          active: sql`CASE WHEN ${reaches} THEN 0 ELSE ${webhookSubscriptions.active} END`,
          disabledReason: sql`CASE WHEN ${reaches} THEN ${`Disabled after ${limit} consecutive failed deliveries`} ELSE ${webhookSubscriptions.disabledReason} END`,
          updatedAt: now,
        })
        .where(subWhere),
    );
  }
  await db.batch(statements as [Statement, ...Statement[]]);
}

/** The dead-letter queue's handler: the Queue gave up on these messages; close their rows. */
async function handleDeadLetterBatch(db: Database, batch: MessageBatch<unknown>): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = parseWebhookMessage(message.body);
      if (!parsed) return message.ack();
      try {
        await db
          .update(webhookDeliveries)
          .set({
            status: "failed",
            nextAttemptAt: null,
            error: "Gave up: the Queue dead-lettered this delivery after repeated processing failures",
            updatedAt: nowIso(),
          })
          .where(and(eq(webhookDeliveries.id, parsed.deliveryId), eq(webhookDeliveries.status, "pending")));
        log("warn", "webhook delivery dead-lettered", { deliveryId: parsed.deliveryId });
        message.ack();
      } catch (err) {
        log("error", "webhook dead-letter consumer: could not mark the delivery failed", {
          deliveryId: parsed.deliveryId,
          ...errorFields(err),
        });
        message.retry({ delaySeconds: 60 });
      }
    }),
  );
}
