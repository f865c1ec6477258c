// Concurrent changes keep the rules a single change is held to, and a change that did not apply
// publishes no webhook.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Database } from "../src/env";
import { deleteDashboard } from "../src/services/dashboards";
import { createWebhookPublisher } from "../src/services/webhook-outbox";
import { api, expectError, registerOrg } from "./helpers";
import { db, fakeQueue, orgIdOf, subscribe } from "./webhook-helpers";

const deliveriesFor = async (subscriptionId: string, event: string) =>
  (
    await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE subscription_id = ? AND event = ?")
      .bind(subscriptionId, event)
      .first<{ n: number }>()
  )!.n;

describe("concurrent widget patches", () => {
  it("never leave a widget past the 12-column grid, and only applied patches publish", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["widget.updated"] });
    const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Grid" } });
    const base = `/api/dashboards/${dashboard.body.id}/widgets`;
    let applied = 0;
    for (let round = 0; round < 10; round++) {
      const widget = await api("POST", base, { token: admin.token, body: { type: "text", title: `w${round}`, x: 0, y: 0, width: 6, height: 2 } });
      const url = `${base}/${widget.body.id}`;
      // Each patch fits the widget as it was; both together would not.
      const [a, b] = await Promise.all([
        api("PATCH", url, { token: admin.token, body: { x: 6 } }),
        api("PATCH", url, { token: admin.token, body: { width: 12 } }),
      ]);
      const after = await api("GET", url, { token: admin.token });
      expect(after.body.x + after.body.width).toBeLessThanOrEqual(12);
      for (const res of [a, b]) {
        if (res.status === 200) applied++;
        else expectError(res, 400, "validation_error");
      }
      expect([a.status, b.status]).toContain(200);
    }
    expect(await deliveriesFor(sub.id, "widget.updated")).toBe(applied);
  });
});

describe("concurrent deletes", () => {
  it("publish widget.deleted once", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["widget.deleted"] });
    const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Twice" } });
    const widget = await api("POST", `/api/dashboards/${dashboard.body.id}/widgets`, {
      token: admin.token,
      body: { type: "text", title: "gone", x: 0, y: 0, width: 2, height: 2 },
    });
    const url = `/api/dashboards/${dashboard.body.id}/widgets/${widget.body.id}`;
    const results = await Promise.all([0, 1, 2].map(() => api("DELETE", url, { token: admin.token })));
    expect(results.filter((r) => r.status === 204).length).toBeGreaterThanOrEqual(1);
    expect(await deliveriesFor(sub.id, "widget.deleted")).toBe(1);
  });
});

const eventsOf = async (subscriptionId: string) =>
  (
    await env.DB.prepare("SELECT event, payload FROM webhook_deliveries WHERE subscription_id = ?").bind(subscriptionId).all<{ event: string; payload: string }>()
  ).results.map((r) => ({ event: r.event, data: JSON.parse(r.payload).data as Record<string, unknown> }));

describe("50 concurrent patches of one dashboard", () => {
  it("end in exactly one of the written states, with one dashboard.updated event per successful patch", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["dashboard.updated"] });
    const created = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Contended" } });
    const url = `/api/dashboards/${created.body.id}`;
    // Every patch writes all four fields, each with its own values: a mix of two writes would show.
    const bodies = Array.from({ length: 50 }, (_, i) => ({
      name: `Version ${i}`,
      description: `Written by patch ${i}`,
      isPublic: i % 2 === 0,
      layout: { version: i, columns: [i, i + 1] },
    }));
    const results = await Promise.all(bodies.map((body) => api("PATCH", url, { token: admin.token, body })));
    for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(200);

    const fields = (d: Record<string, unknown>) => ({ name: d.name, description: d.description, isPublic: d.isPublic, layout: d.layout });
    const final = await api("GET", url, { token: admin.token });
    const winner = bodies.findIndex((body) => JSON.stringify(fields(final.body)) === JSON.stringify(fields(body)));
    expect(winner, `final state ${JSON.stringify(fields(final.body))} is none of the writes`).toBeGreaterThanOrEqual(0);
    // ... and exactly what the winning patch answered, its updatedAt included.
    expect({ ...fields(final.body), updatedAt: final.body.updatedAt }).toEqual({ ...fields(results[winner]!.body), updatedAt: results[winner]!.body.updatedAt });

    // One event per applied patch, each carrying its own patch's values, and no other.
    const got = await sub.sink.waitFor(50, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const all = await sub.sink.received();
    expect(all.every((r) => r.verifiedBy[0])).toBe(true);
    expect(new Set(all.map((r) => r.headers["webhook-id"])).size).toBe(all.length);
    expect(all).toHaveLength(got.length);
    const events = all.map((r) => JSON.parse(r.body) as { event: string; data: Record<string, unknown> });
    expect(events.map((e) => e.data.name).sort()).toEqual(bodies.map((b) => b.name).sort());
    for (const e of events) {
      const i = Number(String(e.data.name).replace("Version ", ""));
      expect(e).toMatchObject({ event: "dashboard.updated", data: { id: created.body.id, isPublic: bodies[i]!.isPublic, updatedBy: admin.id } });
      expect((e.data.changedFields as string[]).sort()).toEqual(["description", "isPublic", "layout", "name"]);
    }
  });
});

describe("deleting a dashboard while widgets are being created on it", () => {
  it("leaves no orphan widget, never answers 500, and every created widget that went with the dashboard is announced deleted", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["widget.created", "widget.deleted", "dashboard.deleted"] });
    const created: string[] = [];
    let deletedFirst = 0;
    for (let round = 0; round < 15; round++) {
      const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: { name: `Doomed ${round}` } });
      const base = `/api/dashboards/${dashboard.body.id}`;
      const widget = (i: number) =>
        api("POST", `${base}/widgets`, { token: admin.token, body: { type: "text", title: `r${round}w${i}`, x: 0, y: i, width: 2, height: 1 } });
      // The delete starts among the creates, at a different place each round.
      const at = round % 4;
      const calls = [0, 1, 2, 3].map((i) => (i === at ? api("DELETE", base, { token: admin.token }) : widget(i)));
      const results = await Promise.all(calls);
      expect(results[at]!.status).toBe(204);
      for (const [i, res] of results.entries()) {
        if (i === at) continue;
        if (res.status === 201) created.push(res.body.id);
        else {
          deletedFirst++;
          expectError(res, 404, "not_found");
        }
      }
      expectError(await api("GET", base, { token: admin.token }), 404, "not_found");
    }
    const orphans = await env.DB.prepare(
      "SELECT count(*) AS n FROM widgets AS w WHERE NOT EXISTS (SELECT 1 FROM dashboards AS d WHERE d.id = w.dashboard_id)",
    ).first<{ n: number }>();
    expect(orphans!.n).toBe(0);
    expect(created.length + deletedFirst).toBe(15 * 3);
    // Every widget that was created is gone with its dashboard, and receivers were told so.
    const events = await eventsOf(sub.id);
    const ids = (name: string) => events.filter((e) => e.event === name).map((e) => e.data.id as string).sort();
    expect(ids("widget.created")).toEqual([...created].sort());
    expect(ids("widget.deleted")).toEqual([...created].sort());
    expect(ids("dashboard.deleted")).toHaveLength(15);
  });
});

/** organizations.dashboard_count, which the list's total reads. */
const storedCount = async (organizationId: string) =>
  (await env.DB.prepare("SELECT dashboard_count AS n FROM organizations WHERE id = ?").bind(organizationId).first<{ n: number }>())!.n;

/** A database that runs `interleave` (another client's request) just before its Nth batch. */
function interleavedBefore(n: number, interleave: () => Promise<unknown>): Database {
  let batches = 0;
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "batch") return Reflect.get(target, prop, receiver);
      return async (queries: Parameters<Database["batch"]>[0]) => {
        if (++batches === n) await interleave();
        return target.batch(queries);
      };
    },
  }) as Database;
}

describe("a dashboard delete racing another change to it (the change lands between its read and its write)", () => {
  async function setUp() {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["widget.created", "widget.updated", "widget.deleted", "dashboard.deleted"] });
    const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Raced" } });
    const widget = await api("POST", `/api/dashboards/${dashboard.body.id}/widgets`, {
      token: admin.token,
      body: { type: "text", title: "Before", x: 0, y: 0, width: 2, height: 1 },
    });
    const actor = { userId: admin.id, organizationId: await orgIdOf(admin), role: "admin" as const };
    return { admin, sub, dashboardId: dashboard.body.id as string, widgetId: widget.body.id as string, actor };
  }
  // Batch 1 is the delete's read of the dashboard and its widgets, batch 2 its write.
  const deleteRacing = (actor: { userId: string; organizationId: string; role: "admin" }, id: string, other: () => Promise<unknown>) =>
    deleteDashboard(interleavedBefore(2, other), actor, id, createWebhookPublisher({ queue: fakeQueue().queue }));
  const widgetEvents = async (subscriptionId: string, event: string) =>
    (await eventsOf(subscriptionId)).filter((e) => e.event === event).map((e) => e.data);

  it("a widget created meanwhile is deleted with the dashboard and announced", async () => {
    const { admin, sub, dashboardId, widgetId, actor } = await setUp();
    let sneaked = "";
    await deleteRacing(actor, dashboardId, async () => {
      const res = await api("POST", `/api/dashboards/${dashboardId}/widgets`, {
        token: admin.token,
        body: { type: "text", title: "Sneaked in", x: 2, y: 0, width: 2, height: 1 },
      });
      expect(res.status).toBe(201);
      sneaked = res.body.id;
    });
    expect((await widgetEvents(sub.id, "widget.deleted")).map((d) => d.id).sort()).toEqual([widgetId, sneaked].sort());
    expect(await widgetEvents(sub.id, "dashboard.deleted")).toHaveLength(1);
    // The write that found the widgets changed counted nothing out; the retry that applied did.
    expect(await storedCount(actor.organizationId)).toBe(0);
  });

  it("a widget renamed meanwhile is announced deleted under its new title", async () => {
    const { admin, sub, dashboardId, widgetId, actor } = await setUp();
    await deleteRacing(actor, dashboardId, async () => {
      expect((await api("PATCH", `/api/dashboards/${dashboardId}/widgets/${widgetId}`, { token: admin.token, body: { title: "After" } })).status).toBe(200);
    });
    expect(await widgetEvents(sub.id, "widget.deleted")).toEqual([expect.objectContaining({ id: widgetId, title: "After" })]);
  });

  it("a widget deleted meanwhile is announced once", async () => {
    const { admin, sub, dashboardId, widgetId, actor } = await setUp();
    await deleteRacing(actor, dashboardId, async () => {
      expect((await api("DELETE", `/api/dashboards/${dashboardId}/widgets/${widgetId}`, { token: admin.token })).status).toBe(204);
    });
    expect((await widgetEvents(sub.id, "widget.deleted")).map((d) => d.id)).toEqual([widgetId]);
    expect(await widgetEvents(sub.id, "dashboard.deleted")).toHaveLength(1);
  });

  it("a concurrent delete of the same dashboard wins: the other answers 404 and nothing is announced twice", async () => {
    const { admin, sub, dashboardId, widgetId, actor } = await setUp();
    const attempt = deleteRacing(actor, dashboardId, async () => {
      expect((await api("DELETE", `/api/dashboards/${dashboardId}`, { token: admin.token })).status).toBe(204);
    });
    await expect(attempt).rejects.toMatchObject({ code: "not_found" });
    expect((await widgetEvents(sub.id, "widget.deleted")).map((d) => d.id)).toEqual([widgetId]);
    expect(await widgetEvents(sub.id, "dashboard.deleted")).toHaveLength(1);
    // Counted out once: the delete that found nothing subtracted nothing.
    expect(await storedCount(actor.organizationId)).toBe(0);
  });
});
