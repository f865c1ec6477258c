// The queue() handler, driven with createMessageBatch / getQueueResult, posting to the real Node
// receiver. Deliveries are written through the outbox with a stand-in Queue, so these messages
// are the only ones the consumer sees for them.
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { webhookDeliveries, webhookSubscriptions } from "../src/db/schema";
import { attemptDelivery, MAX_RESPONSE_BODY_BYTES, parseRetryAfter, USER_AGENT } from "../src/queues/webhook-consumer";
import { api, registerOrg } from "./helpers";
import {
  config,
  consume,
  consumeBodies,
  db,
  deliveryRow,
  emit,
  eventDataFor,
  orgIdOf,
  setAttempts,
  subscribe,
  subscriptionRow,
} from "./webhook-helpers";

// vitest.config.ts sets WEBHOOK_RETRY_SCHEDULE "1,2,3" (4 attempts) and a 1 s timeout.
const SCHEDULE = [1, 2, 3];

async function setup(sink: NonNullable<Parameters<typeof subscribe>[1]>["sink"] = {}) {
  const admin = await registerOrg();
  const sub = await subscribe(admin, { sink });
  const org = await orgIdOf(admin);
  return { admin, sub, org };
}

describe("webhook consumer", () => {
  it("reads its schedule and timeout from [vars]", () => {
    expect(config().webhooks.retrySchedule).toEqual(SCHEDULE);
    expect(config().webhooks.timeoutMs).toBe(1000);
  });

  it("posts a signed delivery and acks the message on 2xx", async () => {
    const { admin, sub, org } = await setup({ fallback: { status: 204 } });
    const data = eventDataFor("dashboard.created");
    const [id] = await emit(org, "dashboard.created", data);
    const before = Math.floor(Date.now() / 1000);
    const result = await consume([id!]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);

    const [got] = await sub.sink.received();
    expect(got!.method).toBe("POST");
    expect(got!.verifiedBy).toEqual([true]);
    expect(got!.headers).toMatchObject({ "webhook-id": id, "content-type": "application/json", "user-agent": USER_AGENT });
    expect(Number(got!.headers["webhook-timestamp"])).toBeGreaterThanOrEqual(before);
    expect(got!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(JSON.parse(got!.body)).toEqual({ event: "dashboard.created", data, timestamp: expect.any(String) });

    const row = await deliveryRow(id!);
    expect(row).toMatchObject({ status: "succeeded", attempts: 1, responseStatus: 204, nextAttemptAt: null, error: null });
    const detail = await api("GET", `/api/webhooks/${sub.id}/deliveries/${id}`, { token: admin.token });
    expect(detail.body.attemptLog).toEqual([
      { attemptNumber: 1, startedAt: row!.lastAttemptAt, responseStatus: 204, durationMs: expect.any(Number), error: null, responseBody: null },
    ]);
  });

  it("retries a 500 with the first scheduled delay and records when the next attempt is due", async () => {
    const { sub, org } = await setup({ fallback: { status: 500, body: "boom" } });
    const [id] = await emit(org);
    const result = await consume([id!]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: expect.stringContaining(id!), delaySeconds: SCHEDULE[0] }]);
    const row = await deliveryRow(id!);
    expect(row).toMatchObject({ status: "pending", attempts: 1, responseStatus: 500, error: "Receiver answered 500" });
    const gap = Date.parse(row!.nextAttemptAt!) - Date.parse(row!.lastAttemptAt!);
    expect(gap).toBeGreaterThanOrEqual(SCHEDULE[0]! * 1000);
    expect(gap).toBeLessThan(SCHEDULE[0]! * 1000 + 5000);
    expect(await sub.sink.received()).toHaveLength(1);
  });

  it("follows the schedule by the row's attempt count, not the message's", async () => {
    const { org } = await setup({ fallback: { status: 503 } });
    const [id] = await emit(org);
    await setAttempts(id!, 2); // the third attempt; the message itself says attempts: 1
    const result = await consume([id!]);
    expect(result.retryMessages).toEqual([{ msgId: expect.any(String), delaySeconds: SCHEDULE[2] }]);
    expect((await deliveryRow(id!))!.attempts).toBe(3);
  });

  it("treats a timeout as a failure and retries it", async () => {
    const { org } = await setup({ fallback: { status: 200, hangMs: 3000 } });
    const [id] = await emit(org);
    const result = await consume([id!]);
    expect(result.retryMessages).toEqual([{ msgId: expect.any(String), delaySeconds: SCHEDULE[0] }]);
    const row = await deliveryRow(id!);
    expect(row).toMatchObject({ status: "pending", attempts: 1, responseStatus: null, error: "Timed out after 1000 ms" });
  });

  it("treats a refused connection as a failure and retries it", async () => {
    const { admin, sub, org } = await setup();
    // Nothing listens on port 9 of loopback (discard) in the test environment.
    await api("PATCH", `/api/webhooks/${sub.id}`, { token: admin.token, body: { url: "http://127.0.0.1:9/hook" } });
    const [id] = await emit(org);
    const result = await consume([id!]);
    expect(result.retryMessages).toHaveLength(1);
    const row = await deliveryRow(id!);
    expect(row!.error).toMatch(/^Request failed: /);
  });

  it("does not follow redirects: a 3xx is a failed attempt", async () => {
    const { sub, org } = await setup({ fallback: { status: 302, location: "http://169.254.169.254/latest" } });
    const [id] = await emit(org);
    const result = await consume([id!]);
    expect(result.retryMessages).toHaveLength(1);
    expect(await deliveryRow(id!)).toMatchObject({ status: "pending", responseStatus: 302 });
    expect(await sub.sink.received()).toHaveLength(1);
  });

  it("honours Retry-After (seconds or a date), capped at the Queue's 12 hours", async () => {
    const { org } = await setup({ script: [{ status: 429, retryAfter: 120 }, { status: 503, retryAfter: 999_999 }] });
    const [first] = await emit(org);
    expect((await consume([first!])).retryMessages).toEqual([{ msgId: expect.any(String), delaySeconds: 120 }]);
    const row = await deliveryRow(first!);
    expect(Date.parse(row!.nextAttemptAt!) - Date.parse(row!.lastAttemptAt!)).toBeGreaterThanOrEqual(120_000);
    const [second] = await emit(org);
    expect((await consume([second!])).retryMessages).toEqual([{ msgId: expect.any(String), delaySeconds: 43_200 }]);

    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    // A shorter Retry-After than the schedule does not hurry the retry.
    expect(parseRetryAfter("0", now)).toBe(0);
  });

  it("410 Gone fails the delivery and disables the subscription", async () => {
    const { admin, sub, org } = await setup({ fallback: { status: 410 } });
    const [id, later] = [...(await emit(org)), ...(await emit(org))];
    const result = await consume([id!]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await deliveryRow(id!)).toMatchObject({ status: "failed", responseStatus: 410 });
    const shown = await api("GET", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(shown.body).toMatchObject({ active: false, disabledReason: "The receiver answered 410 Gone" });

    // The next delivery of a disabled subscription is closed without being sent.
    const next = await consume([later!]);
    expect(next.explicitAcks).toHaveLength(1);
    expect(await deliveryRow(later!)).toMatchObject({ status: "failed", attempts: 0, error: "Not sent: the subscription is disabled" });
    expect(await sub.sink.received()).toHaveLength(1);
  });

  it("marks the delivery failed after the last attempt and acks", async () => {
    const { sub, org } = await setup({ fallback: { status: 500 } });
    const [id] = await emit(org);
    await setAttempts(id!, SCHEDULE.length); // the next one is attempt 4 of 4
    const result = await consume([id!]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await deliveryRow(id!)).toMatchObject({
      status: "failed",
      attempts: 4,
      nextAttemptAt: null,
      error: "Receiver answered 500; gave up after 4 attempts",
    });
    expect(await subscriptionRow(sub.id)).toMatchObject({ active: true, consecutiveFailures: 1 });
  });

  it("disables a subscription after 5 deliveries in a row exhaust their retries; a success resets the count", async () => {
    const { admin, sub, org } = await setup({ script: [{ status: 500 }, { status: 500 }, { status: 200 }], fallback: { status: 500 } });
    const first: string[] = [];
    for (let i = 0; i < 3; i++) first.push(...(await emit(org)));
    for (const id of first) await setAttempts(id, SCHEDULE.length);
    for (const id of first) await consume([id]);
    // Two exhausted, then a success: the count starts over.
    expect(await subscriptionRow(sub.id)).toMatchObject({ active: true, consecutiveFailures: 0 });

    const batch: string[] = [];
    for (let i = 0; i < 5; i++) batch.push(...(await emit(org)));
    for (const id of batch) await setAttempts(id, SCHEDULE.length);
    // One batch, five concurrent final failures: the counter is updated atomically.
    await consume(batch);
    const shown = await api("GET", `/api/webhooks/${sub.id}`, { token: admin.token });
    expect(shown.body).toMatchObject({ active: false, consecutiveFailures: 5, disabledReason: "Disabled after 5 consecutive failed deliveries" });
  });

  it("acks without sending when the delivery is done, gone, or already claimed by another message", async () => {
    const { sub, org } = await setup();
    const [id] = await emit(org);
    await consume([id!]);
    expect(await sub.sink.received()).toHaveLength(1);
    // A duplicate (e.g. a sweeper re-send) of a succeeded delivery.
    const dup = await consume([id!]);
    expect(dup.explicitAcks).toHaveLength(1);
    // One claimed by an attempt in flight elsewhere (its lease is in the future).
    const [inFlight] = await emit(org);
    await db
      .update(webhookDeliveries)
      .set({ attempts: 1, nextAttemptAt: new Date(Date.now() + 60_000).toISOString() })
      .where(eq(webhookDeliveries.id, inFlight!));
    expect((await consume([inFlight!])).explicitAcks).toHaveLength(1);
    expect(await deliveryRow(inFlight!)).toMatchObject({ status: "pending", attempts: 1 });
    // Unknown ids and malformed bodies.
    expect((await consume([crypto.randomUUID()])).explicitAcks).toHaveLength(1);
    expect(await sub.sink.received()).toHaveLength(1);
  });

  it("acks a malformed message instead of retrying it forever", async () => {
    const result = await consumeBodies([
      { id: "bad-1", body: "not an object" },
      { id: "bad-2", body: { deliveryId: 42 } },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["bad-1", "bad-2"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("with a broken configuration retries the whole batch later instead of throwing", async () => {
    const { env } = await import("cloudflare:test");
    const result = await consumeBodies([{ id: "m1", body: { deliveryId: crypto.randomUUID() } }], "edgeboard-webhooks", { ...env, JWT_SECRET: "too short" });
    expect(result.retryBatch.retry).toBe(true);
    expect(result.explicitAcks).toEqual([]);
  });

  it("many messages in one batch are settled one by one", async () => {
    const { sub, org } = await setup({ script: [{ status: 500 }], fallback: { status: 200 } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(...(await emit(org)));
    const result = await consume(ids);
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(4);
    expect(result.retryMessages).toHaveLength(1);
    expect(await sub.sink.received()).toHaveLength(4);
  });

  it("keeps at most 1 KiB of the receiver's answer", async () => {
    const { admin, sub, org } = await setup({ fallback: { status: 400, body: "x".repeat(5000) } });
    const [id] = await emit(org);
    await consume([id!]);
    const detail = await api("GET", `/api/webhooks/${sub.id}/deliveries/${id}`, { token: admin.token });
    expect(detail.body.attemptLog[0].responseBody).toHaveLength(MAX_RESPONSE_BODY_BYTES);
    expect(detail.body.attemptLog[0].responseStatus).toBe(400);
  });

  it("checks the URL guard again before each send", async () => {
    const { sub, org } = await setup();
    const [id] = await emit(org);
    // As production would: the development flag off, the subscription's loopback URL refused.
    const outcome = await attemptDelivery(db, { ...config(), allowPrivateNetworkTargets: false }, id!);
    expect(outcome).toEqual({ kind: "failed", reason: "blocked" });
    expect(await deliveryRow(id!)).toMatchObject({ status: "failed", attempts: 1, error: expect.stringContaining("Blocked by the URL guard") });
    expect(await sub.sink.received()).toEqual([]);
  });

  it("the dead-letter consumer marks a pending delivery failed and leaves finished ones alone", async () => {
    const { org } = await setup();
    const [pending, done] = [...(await emit(org)), ...(await emit(org))];
    await db.update(webhookDeliveries).set({ status: "succeeded" }).where(eq(webhookDeliveries.id, done!));
    const result = await consume([pending!, done!], "edgeboard-webhooks-dlq");
    expect(result.explicitAcks).toHaveLength(2);
    expect(await deliveryRow(pending!)).toMatchObject({ status: "failed", nextAttemptAt: null, error: expect.stringContaining("dead-lettered") });
    expect(await deliveryRow(done!)).toMatchObject({ status: "succeeded" });
  });

  it("signs with the previous secret too while its grace lasts", async () => {
    const { admin, sub, org } = await setup();
    const rotated = await api("POST", `/api/webhooks/${sub.id}/rotate-secret`, { token: admin.token });
    await sub.sink.configure({ secrets: [sub.secret, rotated.body.secret] });
    const [id] = await emit(org);
    await consume([id!]);
    let [got] = await sub.sink.received();
    expect(got!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(got!.verifiedBy).toEqual([true, true]);

    await db.update(webhookSubscriptions).set({ previousSecretExpiresAt: new Date(Date.now() - 1000).toISOString() }).where(eq(webhookSubscriptions.id, sub.id));
    const [afterGrace] = await emit(org);
    await consume([afterGrace!]);
    got = (await sub.sink.received())[1];
    expect(got!.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(got!.verifiedBy).toEqual([false, true]);
  });
});
