// End to end through the real Queue binding: the Worker sends delivery ids to
// `edgeboard-webhooks`, the local broker hands them to this same Worker's queue() handler, and it
// posts to the Node receiver, which verifies with the `standardwebhooks` npm package.
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { webhookDeliveries } from "../src/db/schema";
import { sweepPendingDeliveries } from "../src/queues/webhook-sweeper";
import { createWebhookPublisher } from "../src/services/webhook-outbox";
import { api, registerOrg } from "./helpers";
import { config, db, deliveryRow, eventDataFor, fakeQueue, harmlessChange, orgIdOf, runScheduled, subscribe, waitForStatus } from "./webhook-helpers";

describe("webhook deliveries through the Queue", () => {
  it("a ping arrives signed, verifiable with the standardwebhooks library, and is logged", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const ping = await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    expect(ping.status).toBe(202);
    expect(ping.body).toMatchObject({ event: "webhook.ping", status: "pending", attempts: 0 });

    const [got] = await sub.sink.waitFor(1);
    expect(got!.verifiedBy).toEqual([true]);
    expect(got!.headers["webhook-id"]).toBe(ping.body.id);
    expect(JSON.parse(got!.body)).toEqual({
      event: "webhook.ping",
      data: { subscriptionId: sub.id, triggeredBy: admin.id },
      timestamp: ping.body.createdAt,
    });
    const done = await waitForStatus(admin, sub.id, ping.body.id, "succeeded");
    expect(done).toMatchObject({ attempts: 1, responseStatus: 200, error: null });
    expect(done.attemptLog).toHaveLength(1);
  });

  it("retries failures on the schedule with the same webhook-id until the receiver accepts", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { sink: { script: [{ status: 500 }, { status: 503 }] } });
    const ping = await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    const got = await sub.sink.waitFor(3, 20_000);
    expect(got.map((r) => r.answered)).toEqual([500, 503, 200]);
    expect(new Set(got.map((r) => r.headers["webhook-id"]))).toEqual(new Set([ping.body.id]));
    expect(got.every((r) => r.verifiedBy[0])).toBe(true);
    // Each attempt is signed at its own time; the gaps follow the schedule (1 s, then 2 s).
    expect(got[1]!.receivedAt - got[0]!.receivedAt).toBeGreaterThanOrEqual(1000);
    expect(got[2]!.receivedAt - got[1]!.receivedAt).toBeGreaterThanOrEqual(2000);

    const done = await waitForStatus(admin, sub.id, ping.body.id, "succeeded");
    expect(done.attempts).toBe(3);
    expect(done.attemptLog.map((a: { attemptNumber: number; responseStatus: number }) => [a.attemptNumber, a.responseStatus])).toEqual([
      [1, 500],
      [2, 503],
      [3, 200],
    ]);
  });

  it("gives up after the last scheduled attempt and marks the delivery failed", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { sink: { fallback: { status: 500 } } });
    const ping = await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    const failed = await waitForStatus(admin, sub.id, ping.body.id, "failed", 25_000);
    expect(failed).toMatchObject({ attempts: 4, nextAttemptAt: null, error: "Receiver answered 500; gave up after 4 attempts" });
    expect(await sub.sink.received()).toHaveLength(4);
    const list = await api("GET", `/api/webhooks/${sub.id}/deliveries?status=failed`, { token: admin.token });
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([ping.body.id]);
  });

  it("during the rotation grace a delivery verifies with either the old or the new secret", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const rotated = await api("POST", `/api/webhooks/${sub.id}/rotate-secret`, { token: admin.token });
    expect(rotated.status).toBe(200);
    await sub.sink.configure({ secrets: [sub.secret, rotated.body.secret] });
    await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    const [got] = await sub.sink.waitFor(1);
    expect(got!.verifiedBy).toEqual([true, true]);
  });

  it("a redelivered delivery arrives again under the same webhook-id", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const ping = await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    await waitForStatus(admin, sub.id, ping.body.id, "succeeded");
    const again = await api("POST", `/api/webhooks/${sub.id}/deliveries/${ping.body.id}/redeliver`, { token: admin.token });
    expect(again.status).toBe(202);
    const got = await sub.sink.waitFor(2);
    expect(got.map((r) => r.headers["webhook-id"])).toEqual([ping.body.id, ping.body.id]);
    const detail = await waitForStatus(admin, sub.id, ping.body.id, "succeeded");
    expect(detail.attempts).toBe(2);
  });

  it("the cron sweeper re-sends deliveries stuck pending after a failed Queue send", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const org = await orgIdOf(admin);
    // The change commits while the Queue is down: its delivery is written but never sent.
    const { queue } = fakeQueue(true);
    await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], [
      {
        event: "dashboard.updated",
        organizationId: org,
        data: { ...eventDataFor("dashboard.updated"), name: "Renamed", updatedBy: admin.id },
        timestamp: new Date().toISOString(),
      },
    ]);
    const [stuck] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.subscriptionId, sub.id));
    expect(stuck).toMatchObject({ status: "pending", attempts: 0 });

    // Within the grace period the sweeper leaves it alone.
    expect(await sweepPendingDeliveries(env, Date.now(), fakeQueue().queue)).toBe(0);

    // A run past the grace period sends it through the real Queue, and it arrives.
    const grace = config().webhooks.sweepGraceSeconds * 1000;
    await runScheduled(Date.now() + grace + 1000);
    const [got] = await sub.sink.waitFor(1);
    expect(got!.headers["webhook-id"]).toBe(stuck!.id);
    expect(got!.verifiedBy).toEqual([true]);
    expect(JSON.parse(got!.body)).toMatchObject({ event: "dashboard.updated", data: { name: "Renamed", updatedBy: admin.id } });
    await waitForStatus(admin, sub.id, stuck!.id, "succeeded");
  });

  it("the sweeper skips deliveries waiting for a scheduled retry or already finished", async () => {
    const admin = await registerOrg();
    await subscribe(admin);
    const org = await orgIdOf(admin);
    const { queue } = fakeQueue(true);
    const publisher = createWebhookPublisher({ queue });
    const ev = () => ({ event: "widget.created" as const, organizationId: org, data: eventDataFor("widget.created"), timestamp: new Date().toISOString() });
    await publisher.commit(db, [harmlessChange()], [ev(), ev(), ev()]);
    const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.organizationId, org));
    const grace = config().webhooks.sweepGraceSeconds * 1000;
    const runAt = Date.now() + grace + 1000;
    // One waits for a retry due after the run, one is done, one is overdue.
    await db.update(webhookDeliveries).set({ attempts: 1, nextAttemptAt: new Date(runAt + 3_600_000).toISOString() }).where(eq(webhookDeliveries.id, rows[0]!.id));
    await db.update(webhookDeliveries).set({ status: "succeeded" }).where(eq(webhookDeliveries.id, rows[1]!.id));
    const recorder = fakeQueue();
    expect(await sweepPendingDeliveries(env, runAt, recorder.queue)).toBe(1);
    expect(recorder.sent).toEqual([{ deliveryId: rows[2]!.id }]);
    // Marked due now, so the next run does not send it again before another grace period.
    expect(await sweepPendingDeliveries(env, runAt + 60_000, recorder.queue)).toBe(0);
    expect((await deliveryRow(rows[2]!.id))!.nextAttemptAt).toBeNull();
  });
});
