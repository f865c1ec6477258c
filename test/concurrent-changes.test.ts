// Concurrent changes keep the rules a single change is held to, and a change that did not apply
// publishes no webhook.
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { deleteDashboard } from "../src/services/dashboards";
import { noEvents, type EventPublisher } from "../src/services/events";
import { api, expectError, registerOrg } from "./helpers";
import { subscribe } from "./webhook-helpers";

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

describe("a dashboard deleted by two requests at once", () => {
  it("leaves the organization's stored count exact: the delete that found nothing subtracts nothing", async () => {
    const admin = await registerOrg();
    const made = await Promise.all(["Kept", "Raced"].map((name) => api("POST", "/api/dashboards", { token: admin.token, body: { name } })));
    const organizationId = (await env.DB.prepare("SELECT organization_id AS org FROM users WHERE id = ?").bind(admin.id).first<{ org: string }>())!.org;
    const actor = { userId: admin.id, organizationId, role: "admin" as const };
    const db = drizzle(env.DB, { schema });
    const id = made[1]!.body.id as string;

    // The other request's delete lands between this one's read and its write.
    const racing: EventPublisher = {
      async commit(database, statements, events) {
        await deleteDashboard(db, actor, id, noEvents);
        return noEvents.commit(database, statements, events);
      },
    };
    await deleteDashboard(db, actor, id, racing);

    const stored = await env.DB.prepare("SELECT dashboard_count AS n FROM organizations WHERE id = ?").bind(organizationId).first<{ n: number }>();
    expect(stored!.n).toBe(1);
    expect((await api("GET", "/api/dashboards", { token: admin.token })).body.meta.total).toBe(1);
  });
});
