// Concurrent changes keep the rules a single change is held to, and a change that did not apply
// publishes no webhook.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
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
