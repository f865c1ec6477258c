// The outbox publisher, called directly the way the dashboard/widget services call it.
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { organizations, webhookDeliveries, webhookSubscriptions } from "../src/db/schema";
import { changedARow, type DomainEvent } from "../src/services/events";
import { createWebhookPublisher } from "../src/services/webhook-outbox";
import { api, registerOrg } from "./helpers";
import { db, fakeQueue, harmlessChange, orgIdOf } from "./webhook-helpers";

const event = (organizationId: string, name: DomainEvent["event"], data: Record<string, unknown> = { id: crypto.randomUUID(), name: "Sales" }): DomainEvent => ({
  event: name,
  organizationId,
  data,
  timestamp: "2026-01-02T03:04:05.678Z",
});

async function createSub(token: string, events: string[], active = true) {
  const res = await api("POST", "/api/webhooks", { token, body: { url: "https://hooks.example.com/in", events, active } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const deliveriesOf = (subscriptionId: string) =>
  db.select().from(webhookDeliveries).where(eq(webhookDeliveries.subscriptionId, subscriptionId)).orderBy(webhookDeliveries.createdAt);

describe("webhook outbox publisher", () => {
  it("writes one pending delivery per matching active subscription, with the spec payload, then queues the ids", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const all = await createSub(admin.token, ["*"]);
    const created = await createSub(admin.token, ["dashboard.created", "widget.deleted"]);
    const updatedOnly = await createSub(admin.token, ["dashboard.updated"]);
    const inactive = await createSub(admin.token, ["*"], false);
    const otherOrg = await registerOrg();
    const foreign = await createSub(otherOrg.token, ["*"]);

    const { queue, sent } = fakeQueue();
    const orgId = crypto.randomUUID();
    const data = { id: "550e8400-e29b-41d4-a716-446655440001", name: "New Dashboard", createdBy: admin.id };
    const results = await createWebhookPublisher({ queue }).commit(
      db,
      [db.insert(organizations).values({ id: orgId, name: "change", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" }).returning({ id: organizations.id })],
      [event(org, "dashboard.created", data)],
    );
    // The change's own results come back, and only them.
    expect(results).toEqual([[{ id: orgId }]]);

    const [a] = await deliveriesOf(all);
    const [b] = await deliveriesOf(created);
    expect(await deliveriesOf(updatedOnly)).toEqual([]);
    expect(await deliveriesOf(inactive)).toEqual([]);
    expect(await deliveriesOf(foreign)).toEqual([]);
    for (const d of [a!, b!]) {
      expect(d).toMatchObject({ organizationId: org, event: "dashboard.created", status: "pending", attempts: 0, nextAttemptAt: null });
      expect(d.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(JSON.parse(d.payload)).toEqual({ event: "dashboard.created", data, timestamp: "2026-01-02T03:04:05.678Z" });
    }
    expect(sent.map((m) => m.deliveryId).sort()).toEqual([a!.id, b!.id].sort());
  });

  it("commits nothing, neither change nor deliveries, when the change fails", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const sub = await createSub(admin.token, ["*"]);
    const { queue, sent } = fakeQueue();
    const id = crypto.randomUUID();
    const row = { id, name: "dup", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" };
    // The second insert of the same primary key fails the whole batch.
    const attempt = createWebhookPublisher({ queue }).commit(
      db,
      [db.insert(organizations).values(row), db.insert(organizations).values(row)],
      [event(org, "dashboard.created")],
    );
    await expect(attempt).rejects.toThrow();
    expect(await db.select().from(organizations).where(eq(organizations.id, id))).toEqual([]);
    expect(await deliveriesOf(sub)).toEqual([]);
    expect(sent).toEqual([]);
  });

  it("keeps the change when the Queue send fails: the deliveries stay pending for the sweeper", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const sub = await createSub(admin.token, ["*"]);
    const { queue } = fakeQueue(true);
    const id = crypto.randomUUID();
    await createWebhookPublisher({ queue }).commit(
      db,
      [db.insert(organizations).values({ id, name: "kept", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" })],
      [event(org, "widget.created")],
    );
    expect(await db.select().from(organizations).where(eq(organizations.id, id))).toHaveLength(1);
    expect(await deliveriesOf(sub)).toMatchObject([{ status: "pending", event: "widget.created" }]);
  });

  it("hands the Queue send to `defer` when given one (ctx.waitUntil in a request)", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    await createSub(admin.token, ["*"]);
    const { queue, sent } = fakeQueue();
    const deferred: Promise<unknown>[] = [];
    await createWebhookPublisher({ queue, defer: (p) => deferred.push(p) }).commit(db, [harmlessChange()], [event(org, "dashboard.updated")]);
    expect(deferred).toHaveLength(1);
    await Promise.all(deferred);
    expect(sent).toHaveLength(1);
  });

  it("writes events in order, including many at once (a dashboard delete with its widgets)", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const sub = await createSub(admin.token, ["widget.deleted", "dashboard.deleted"]);
    const dashboardId = crypto.randomUUID();
    const events = [
      ...Array.from({ length: 70 }, (_, i) => event(org, "widget.deleted", { id: `w${i}`, title: `W${i}`, dashboardId, deletedBy: admin.id })),
      event(org, "dashboard.deleted", { id: dashboardId, name: "Gone", deletedBy: admin.id }),
    ];
    const { queue, sent } = fakeQueue();
    await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], events);
    const rows = await db.all<{ id: string; payload: string }>(
      sql`SELECT id, payload FROM webhook_deliveries WHERE subscription_id = ${sub} ORDER BY rowid`,
    );
    expect(rows.map((r) => JSON.parse(r.payload).data.id)).toEqual([...events.map((e) => e.data.id)]);
    // Queued in the same order: every widget.deleted before the dashboard.deleted.
    expect(sent.map((m) => m.deliveryId)).toEqual(rows.map((r) => r.id));
  });

  it("with no matching subscription writes only the change and sends nothing", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    await createSub(admin.token, ["widget.created"]);
    const { queue, sent } = fakeQueue();
    await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], [event(org, "dashboard.deleted")]);
    await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], []);
    expect(sent).toEqual([]);
    const count = await db.$count(webhookDeliveries, eq(webhookDeliveries.organizationId, org));
    expect(count).toBe(0);
  });

  it("sees a subscription's current state: one disabled before the change gets nothing", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const sub = await createSub(admin.token, ["*"]);
    const { queue } = fakeQueue();
    await db.update(webhookSubscriptions).set({ active: false }).where(eq(webhookSubscriptions.id, sub));
    await createWebhookPublisher({ queue }).commit(db, [harmlessChange()], [event(org, "dashboard.created")]);
    expect(await deliveriesOf(sub)).toEqual([]);
  });

  it("publishes every event of a change under changedARow only if the change applied, however many", async () => {
    const admin = await registerOrg();
    const org = await orgIdOf(admin);
    const sub = await createSub(admin.token, ["widget.deleted"]);
    const many = (tag: string) =>
      Array.from({ length: 70 }, (_, i) => ({ ...event(org, "widget.deleted", { id: `${tag}${i}` }), onlyIf: changedARow }));
    const { queue } = fakeQueue();
    const publisher = createWebhookPublisher({ queue });
    const orgId = crypto.randomUUID();
    const stamp = "2026-01-01T00:00:00.000Z";
    await db.insert(organizations).values({ id: orgId, name: "target", createdAt: stamp, updatedAt: stamp });
    // Changes a row: all 70 are written (changes() holds for the whole insert, not just its first row).
    await publisher.commit(db, [db.update(organizations).set({ name: "renamed" }).where(eq(organizations.id, orgId))], many("a"));
    // Changes nothing: none is.
    await publisher.commit(db, [db.update(organizations).set({ name: "again" }).where(eq(organizations.id, "no such id"))], many("b"));
    const ids = (await deliveriesOf(sub)).map((d) => JSON.parse(d.payload).data.id as string);
    expect(ids.sort()).toEqual(many("a").map((e) => e.data.id as string).sort());
    // changes() would describe the wrong statement after two change statements: refused.
    await expect(publisher.commit(db, [harmlessChange(), harmlessChange()], many("c"))).rejects.toThrow(/changedARow/);
  });
});
